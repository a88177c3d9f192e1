// Looks up the system account Dovecot runs mail processes as. Dovecot refuses to
// access mail as root (first_valid_uid), and Node has no getpwnam, so read
// /etc/passwd. Debian always has `mail` (uid 8, gid 8).
import { readFileSync } from 'node:fs';

export type SystemUser = { name: string; uid: number; gid: number };

export function lookupSystemUser(name: string): SystemUser {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const [user, , uid, gid] = line.split(':');
    if (user === name && uid !== undefined && gid !== undefined) {
      return { name, uid: Number(uid), gid: Number(gid) };
    }
  }
  throw new Error(`system user ${name} not found in /etc/passwd`);
}
