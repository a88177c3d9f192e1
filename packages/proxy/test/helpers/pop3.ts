// POP3 helpers over RawClient: commands with single-line and multi-line answers, read
// exactly as they arrive on the wire.
import { chown, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { DovecotBackend } from '@gatehouse/testkit';
import { RawClient } from './raw-client.ts';

/** Sends one command line and returns the single-line answer. */
export async function pop3(c: RawClient, line: string): Promise<string | null> {
  c.send(`${line}\r\n`);
  return c.line();
}

/** Reads a multi-line answer: the status line, then (after +OK) the lines up to ".", still dot-stuffed. */
export async function readMulti(c: RawClient): Promise<string[]> {
  const first = await c.line();
  if (first === null) throw new Error('closed before a response');
  const out = [first];
  if (!first.startsWith('+OK')) return out;
  for (;;) {
    const l = await c.line();
    if (l === null) throw new Error(`closed inside a multi-line response: ${JSON.stringify(out)}`);
    out.push(l);
    if (l === '.') return out;
  }
}

/** Sends one command whose +OK answer is multi-line. */
export async function pop3Multi(c: RawClient, line: string): Promise<string[]> {
  c.send(`${line}\r\n`);
  return readMulti(c);
}

export const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

/** A message whose lines start with "." (one is only "."): what dot-stuffing is for. */
export const DOTTED_MESSAGE = Buffer.from(
  [
    'From: Dots <dots@gatehouse.test>',
    'To: Pat <pat@example.com>',
    'Subject: Lines that start with a dot',
    'Date: Sat, 06 Jan 2024 12:00:00 +0000',
    'Message-ID: <dots@gatehouse.test>',
    '',
    '.',
    '..two dots',
    '.leading dot',
    '. ',
    'end',
    '',
  ].join('\r\n'),
  'latin1',
);

/** Adds a message to a user's INBOX at the store as a new maildir file, as a delivery would. */
export async function addMaildirMessage(be: DovecotBackend, user: string, raw: Buffer): Promise<void> {
  const maildir = path.join(be.baseDir, 'home', user, 'Maildir');
  const owner = await stat(maildir);
  const file = path.join(maildir, 'new', `1704542400.M1P${process.pid}.gatehouse-test`);
  await writeFile(file, raw);
  await chown(file, owner.uid, owner.gid);
}
