// The one root logger, created here and injected into every package. Credentials are
// redacted by path as a second line of defence: no code logs them on purpose.
import { pino, type Logger } from 'pino';

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { pid: process.pid },
    redact: { paths: ['password', '*.password', 'masterPassword', '*.masterPassword', 'token', '*.token'], censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
