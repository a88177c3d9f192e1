// Writes messages straight into Maildir++ folders before Dovecot starts: much faster
// than delivering through LMTP or `doveadm save`, and it keeps the bytes exactly as
// given. Dovecot assigns UIDs on its first sync in filename order, and the filenames
// start with the message time, so UIDs follow the order of the list. The file mtime
// becomes the INTERNALDATE. Everything is chowned to the mail user afterwards,
// because the mail processes run as that user and create their index files here.
import { chown, mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';

export type MaildirMessage = { folder: string; date: Date; maildirFlags: string; raw: Buffer };
export type Owner = { uid: number; gid: number };

/** 'INBOX' is the root; 'A/B' is the Maildir++ folder '.A.B' (separator '/' to clients). */
export function maildirFolderPath(root: string, folder: string): string {
  if (folder === 'INBOX') return root;
  if (folder.split('/').some((part) => part === '' || part.includes('.'))) {
    throw new Error(`unsupported folder name for the sample maildir: ${folder}`);
  }
  return path.join(root, `.${folder.split('/').join('.')}`);
}

export async function createMaildirFolder(root: string, folder: string): Promise<string> {
  const dir = maildirFolderPath(root, folder);
  for (const sub of ['cur', 'new', 'tmp']) await mkdir(path.join(dir, sub), { recursive: true });
  if (folder !== 'INBOX') await writeFile(path.join(dir, 'maildirfolder'), '');
  return dir;
}

export async function writeMaildir(root: string, folders: string[], messages: MaildirMessage[]): Promise<void> {
  await createMaildirFolder(root, 'INBOX');
  for (const folder of folders) await createMaildirFolder(root, folder);
  let seq = 0;
  for (const message of messages) {
    seq += 1;
    const dir = await createMaildirFolder(root, message.folder);
    // <time>.M<usecs>P<pid>.<host>,S=<size>,W=<rfc822 size>:2,<flags> — the raw bytes
    // already use CRLF, so the physical and virtual (CRLF) sizes are equal.
    const seconds = Math.floor(message.date.getTime() / 1000);
    const size = message.raw.length;
    const name = `${seconds}.M${seq}P0.gatehouse,S=${size},W=${size}:2,${message.maildirFlags}`;
    const file = path.join(dir, 'cur', name);
    await writeFile(file, message.raw);
    await utimes(file, message.date, message.date);
  }
}

export async function chownTree(dir: string, owner: Owner): Promise<void> {
  await chown(dir, owner.uid, owner.gid);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const child = path.join(dir, entry.name);
    if (entry.isDirectory()) await chownTree(child, owner);
    else await chown(child, owner.uid, owner.gid);
  }
}
