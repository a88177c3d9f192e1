export { parseConfig, loadConfig } from './config-load.ts';
export { configSchema, type GatehouseConfig } from './config-schema.ts';
