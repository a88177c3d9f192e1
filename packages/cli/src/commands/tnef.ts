// `gatehouse tnef FILE [--out DIR] [--keep-original]`: the delivery path's TNEF
// conversion on the command line, for administrators checking a message. An .eml (any
// RFC 5322 message) is converted and printed; a raw winmail.dat (starts with the TNEF
// signature) has its attachments written to --out and a summary printed. Needs no
// directory.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { convertTnefInMessage, decodeTnef, isTnef, safeFileName, tnefToEml, TnefError, type TnefMessage } from '@gatehouse/tnef';
import { CliError } from '../cli-error.ts';
import type { CommandContext } from '../command-context.ts';
import { printJson, printRecord, printTable } from '../output.ts';

export async function tnefCommand(ctx: CommandContext): Promise<void> {
  const { values, positionals } = ctx.parse({ out: { type: 'string' }, 'keep-original': { type: 'boolean' } });
  const [file] = positionals;
  if (file === undefined) throw new CliError('ERR_USAGE', 'usage: gatehouse tnef FILE [--out DIR] [--keep-original]', 2);
  let bytes: Buffer;
  try {
    bytes = file === '-' ? Buffer.from(await ctx.readStdin(), 'latin1') : readFileSync(file);
  } catch (err) {
    throw new CliError('ERR_USAGE', `cannot read ${file}: ${(err as Error).message}`, 2);
  }
  if (isTnef(bytes)) return winmailDat(ctx, bytes, values.out);
  const r = convertTnefInMessage(bytes, { keepOriginal: values['keep-original'] === true });
  for (const w of r.warnings) process.stderr.write(`gatehouse: ${w}\n`);
  if (ctx.json) {
    printJson({ changed: r.changed, tnefParts: r.tnefParts, warnings: r.warnings, message: Buffer.from(r.message).toString('latin1') });
    return;
  }
  process.stdout.write(r.message);
  if (!r.changed) process.stderr.write(`gatehouse: message unchanged (${r.tnefParts} TNEF part${r.tnefParts === 1 ? '' : 's'})\n`);
}

function winmailDat(ctx: CommandContext, bytes: Buffer, out: string | undefined): void {
  let msg: TnefMessage;
  try {
    msg = decodeTnef(bytes);
  } catch (err) {
    if (err instanceof TnefError) throw new CliError(err.code, err.message);
    throw err;
  }
  const used = new Set<string>();
  const rows = msg.attachments.map((a, i) => {
    // Embedded messages are written as .eml (the same conversion as at delivery).
    const content = a.kind === 'message' ? tnefToEml(a.embedded) : a.data;
    const base = safeFileName(a.fileName) || `attachment-${i + 1}`;
    let name = a.kind === 'message' && !/\.eml$/i.test(base) ? `${base}.eml` : base;
    for (let n = 2; used.has(name); n++) name = name.replace(/(\.[^.]*)?$/, `-${n}$1`);
    used.add(name);
    return { name, mimeType: a.kind === 'message' ? 'message/rfc822' : a.mimeType, bytes: content.byteLength, kind: a.kind, content };
  });
  if (out !== undefined) {
    mkdirSync(out, { recursive: true });
    for (const r of rows) writeFileSync(join(out, r.name), r.content);
  }
  const summary = {
    subject: msg.subject ?? null,
    messageClass: msg.messageClass ?? null,
    body: [msg.body.text !== undefined ? 'text' : null, msg.body.html !== undefined ? 'html' : null].filter((x) => x !== null).join('+') || 'none',
    attachments: rows.length,
    warnings: msg.warnings,
    written: out ?? null,
  };
  if (ctx.json) {
    printJson({ ...summary, files: rows.map(({ content: _c, ...r }) => r) });
    return;
  }
  printRecord(summary);
  process.stdout.write('\n');
  printTable(rows.map(({ content: _c, ...r }) => r), ['name', 'mimeType', 'bytes', 'kind']);
}
