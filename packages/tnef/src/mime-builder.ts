/**
 * Building MIME entities: a small tree of parts serialised with the line ending of the
 * message they go into (CRLF on the wire, often LF in stores).
 *
 * Generated leaves are 7-bit (base64 or quoted-printable bodies, RFC 2047/2231 headers), so
 * no generated line can look like a boundary. Raw children (parts kept byte-exact from the
 * original message) can hold anything, so a boundary is checked against their bytes and
 * changed until it does not occur in them. Boundaries are derived from a seed (a hash of
 * the input message): the same input gives the same output.
 */
import { Buffer } from 'node:buffer';
import { encodeParameter, formatHeader } from './mime-encoding.ts';

export interface MimeLeaf {
  readonly kind: 'leaf';
  /** Header fields: name and its tokens (joined by "; "). */
  readonly fields: ReadonlyArray<readonly [string, readonly string[]]>;
  /** The encoded body, already in 7-bit lines ended by the writer's line ending. */
  readonly body: string;
}

export interface MimeMultipart {
  readonly kind: 'multipart';
  /** alternative, related, mixed… */
  readonly subtype: string;
  /** Extra Content-Type parameters (e.g. related's type). */
  readonly params?: readonly string[];
  /** Extra header fields (e.g. Content-Disposition). */
  readonly fields?: ReadonlyArray<readonly [string, readonly string[]]>;
  readonly children: readonly MimeNode[];
}

/** A part copied byte-exact from the original message (headers and body). */
export interface MimeRaw {
  readonly kind: 'raw';
  readonly bytes: Uint8Array;
}

export type MimeNode = MimeLeaf | MimeMultipart | MimeRaw;

export interface SerializedEntity {
  /** The header fields, each ended by the line ending. */
  readonly head: string;
  /** The body bytes (after the blank line). */
  readonly body: Uint8Array;
}

const encoder = new TextEncoder();

export class MimeWriter {
  readonly eol: string;
  private readonly seed: string;
  private readonly reserved: readonly string[];
  private counter = 0;

  /** `reserved`: boundaries of the message around (ours must not start with them, or they with ours). */
  constructor(eol: string, seed: string, reserved: readonly string[] = []) {
    this.eol = eol;
    this.seed = seed;
    this.reserved = reserved;
  }

  /** Header fields and body of `node` (a raw node has no separate head: all is body). */
  entity(node: MimeNode): SerializedEntity {
    if (node.kind === 'raw') return { head: '', body: node.bytes };
    if (node.kind === 'leaf') {
      return { head: node.fields.map(([name, tokens]) => formatHeader(name, tokens, this.eol)).join(''), body: encoder.encode(node.body) };
    }
    const children = node.children.map((child) => this.bytes(child));
    const boundary = this.boundaryFor(children);
    const head =
      formatHeader('Content-Type', [`multipart/${node.subtype}`, ...encodeParameter('boundary', boundary), ...(node.params ?? [])], this.eol) +
      (node.fields ?? []).map(([name, tokens]) => formatHeader(name, tokens, this.eol)).join('');
    const pieces: Uint8Array[] = [];
    for (const child of children) {
      pieces.push(encoder.encode(`--${boundary}${this.eol}`), child, encoder.encode(this.eol));
    }
    pieces.push(encoder.encode(`--${boundary}--${this.eol}`));
    return { head, body: Buffer.concat(pieces) };
  }

  /** The whole entity: head, blank line, body. */
  bytes(node: MimeNode): Uint8Array {
    if (node.kind === 'raw') return node.bytes;
    const { head, body } = this.entity(node);
    return Buffer.concat([encoder.encode(head + this.eol), body]);
  }

  /** Several entities as siblings inside an existing multipart with `boundary`. */
  siblings(nodes: readonly MimeNode[], boundary: string): Uint8Array {
    const pieces: Uint8Array[] = [];
    nodes.forEach((node, i) => {
      if (i > 0) pieces.push(encoder.encode(`${this.eol}--${boundary}${this.eol}`));
      pieces.push(this.bytes(node));
    });
    return Buffer.concat(pieces);
  }

  /** A boundary not occurring in any of the children's bytes. */
  private boundaryFor(children: readonly Uint8Array[]): string {
    for (;;) {
      const n = ++this.counter;
      // Two shapes with different first characters: a reserved prefix cannot block both.
      const boundary = n % 2 === 1 ? `=_gh_tnef_${this.seed}_${n}` : `gh_tnef_${this.seed}_${n}_=_`;
      const needle = Buffer.from(`--${boundary}`);
      if (this.reserved.some((r) => boundary.startsWith(r) || r.startsWith(boundary))) continue;
      if (children.every((child) => Buffer.from(child.buffer, child.byteOffset, child.byteLength).indexOf(needle) === -1)) {
        return boundary;
      }
    }
  }
}
