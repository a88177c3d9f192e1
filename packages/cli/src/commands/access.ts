// `gatehouse access list|add|del VSERVER …`: the access rules of a virtual server, stored
// in the directory (gh:access:<vserver>) and re-read by every running node within a
// second (docs/access.md). Networks and host names (`mail.example.net`, `*.example.net`)
// are parsed and canonicalized here with @gatehouse/policy, so the directory only ever
// holds forms the matcher reads back.
import { DirectoryError, type Directory } from '@gatehouse/directory';
import { canonicalAccessRule, isAccessAction, parseDomainPattern, parseNetwork, type AccessAction } from '@gatehouse/policy';
import { CliError } from '../cli-error.ts';
import type { CommandContext } from '../command-context.ts';
import { printJson, printTable } from '../output.ts';

const USAGE =
  'usage: gatehouse access list VSERVER | access add VSERVER grant|deny ADDR[/LEN|/MASK]|HOST|*.DOMAIN [--default grant|deny] | access add VSERVER --default grant|deny | access del VSERVER [grant|deny] ADDR[/LEN|/MASK]|HOST|*.DOMAIN';

function usage(): CliError {
  return new CliError('ERR_USAGE', USAGE, 2);
}

function action(v: string | undefined): AccessAction {
  if (!isAccessAction(v)) throw usage();
  return v;
}

/** IPv4 rules then IPv6 (they never match the same client), each most specific first: the order of evaluation. */
function evaluationOrder(rules: Array<{ network: string; action: string }>): Array<{ network: string; action: string }> {
  const key = (n: string): [number, number] => {
    const net = parseNetwork(n);
    return net === null ? [7, 0] : [net.family, -net.prefixLength];
  };
  return [...rules].sort((a, b) => {
    const [fa, la] = key(a.network);
    const [fb, lb] = key(b.network);
    return fa - fb || la - lb || (a.network < b.network ? -1 : a.network > b.network ? 1 : 0);
  });
}

/** Exact names, then wildcards with the most labels first: the order in which a name is matched. */
function domainOrder(domains: Array<{ domain: string; action: string }>): Array<{ domain: string; action: string }> {
  const key = (d: string): number => {
    const p = parseDomainPattern(d);
    return p === null ? 0 : p.kind === 'exact' ? Number.MAX_SAFE_INTEGER : p.labels;
  };
  return [...domains].sort((a, b) => key(b.domain) - key(a.domain) || (a.domain < b.domain ? -1 : a.domain > b.domain ? 1 : 0));
}

/** The field a rule is stored under: its canonical network or domain pattern. */
function ruleField(text: string): string {
  const r = canonicalAccessRule(text);
  return 'network' in r ? r.network : r.domain;
}

export async function accessCommand(ctx: CommandContext, dir: Directory): Promise<void> {
  const { values, positionals } = ctx.parse({ default: { type: 'string' } });
  const [verb, vserver, ...rest] = positionals;
  if (vserver === undefined) throw usage();
  const def = values.default === undefined ? undefined : action(values.default);
  switch (verb) {
    case 'list': {
      if (rest.length > 0) throw usage();
      if (def !== undefined) await dir.setAccessDefault(vserver, def);
      break;
    }
    case 'add': {
      if (rest.length === 0 && def !== undefined) {
        await dir.setAccessDefault(vserver, def);
        break;
      }
      if (rest.length !== 2) throw usage();
      const act = action(rest[0]);
      await dir.setAccessRule(vserver, ruleField(rest[1] as string), act);
      if (def !== undefined) await dir.setAccessDefault(vserver, def);
      break;
    }
    case 'del': {
      if (rest.length !== 1 && rest.length !== 2) throw usage();
      const act = rest.length === 2 ? action(rest[0]) : undefined;
      const field = ruleField(rest[rest.length - 1] as string);
      const current = await dir.getAccessRules(vserver);
      const stored = [...current.rules.map((r) => ({ field: r.network, action: r.action })), ...current.domains.map((d) => ({ field: d.domain, action: d.action }))].find(
        (r) => r.field === field,
      );
      if (stored === undefined || (act !== undefined && stored.action !== act)) {
        throw new DirectoryError('ERR_NOT_FOUND', `no ${act ?? 'grant or deny'} rule for ${field} on ${vserver}`);
      }
      await dir.delAccessRule(vserver, field);
      if (def !== undefined) await dir.setAccessDefault(vserver, def);
      break;
    }
    default:
      throw usage();
  }
  const set = await dir.getAccessRules(vserver);
  const rules = evaluationOrder(set.rules);
  const domains = domainOrder(set.domains);
  if (ctx.json) {
    printJson({ vserver, default: set.default, rules, domains });
    return;
  }
  process.stdout.write(`default: ${set.default}\n`);
  printTable(rules, ['network', 'action']);
  // Domain rules are consulted only when no network rule matched (docs/access.md).
  if (domains.length > 0) {
    process.stdout.write('\n');
    printTable(domains, ['domain', 'action']);
  }
}
