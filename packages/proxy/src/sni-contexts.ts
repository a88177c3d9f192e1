// The certificate choice by SNI name moved to @gatehouse/certs, shared with the LMTP/SMTP
// listeners of @gatehouse/delivery; re-exported so the proxy's imports and exports stay.
export { SniContexts, certificateNames, defaultContextOptions, normalizeServerName, type SniChoice, type TlsCertificate, type VirtualServerTls } from '@gatehouse/certs';
