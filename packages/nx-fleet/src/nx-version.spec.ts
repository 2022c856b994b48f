import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  classifyNxVersion,
  nxCacheKind,
  nxPackageVersion,
  nxRangeFromPackageJson,
  parseLowestVersion,
  PLUGIN_RANGE,
  readInstalledNxVersion,
  RUNNER_RANGE,
  SUPPORTED_PEER_RANGE,
  SUPPORTED_RANGE_TEXT,
} from './nx-version';

describe('classifyNxVersion', () => {
  it.each([
    ['19.8.0', 'runner'],
    ['19.8.14', 'runner'],
    ['20.0.0', 'runner'],
    ['20.8.4', 'runner'],
    ['^20.1.0', 'runner'],
    ['~19.8.2', 'runner'],
    ['21.0.0', 'plugin'],
    ['21.6.11', 'plugin'],
    ['22.7.12', 'plugin'],
    ['23.3.2', 'plugin'],
    ['24.0.6', 'plugin'],
    ['19.7.3', 'unsupported'],
    ['18.3.0', 'unsupported'],
    ['16.10.0', 'unsupported'],
    ['25.0.0', 'unsupported'],
    ['latest', 'unsupported'],
  ])('%s -> %s', (version, kind) => {
    expect(classifyNxVersion(version).kind).toBe(kind);
  });

  it('names the supported range for unsupported versions', () => {
    for (const v of ['18.3.0', '19.7.0', '25.1.0', 'latest']) {
      const result = classifyNxVersion(v);
      expect(result.message).toContain('19.8');
      expect(result.message).toContain('24');
    }
    expect(classifyNxVersion('18.3.0').message).toContain('too old');
    expect(classifyNxVersion('25.1.0').message).toContain('newer');
  });

  it('gives no message for supported versions', () => {
    expect(classifyNxVersion('20.8.4').message).toBeUndefined();
    expect(classifyNxVersion('22.0.0').message).toBeUndefined();
  });
});

describe('parseLowestVersion', () => {
  it('reads versions and simple ranges', () => {
    expect(parseLowestVersion('20.8.4')).toEqual({ major: 20, minor: 8, patch: 4 });
    expect(parseLowestVersion('>=19.8.0 <21')).toEqual({ major: 19, minor: 8, patch: 0 });
    expect(parseLowestVersion('19.x')).toEqual({ major: 19, minor: 0, patch: 0 });
    expect(parseLowestVersion('v21.0.0-beta.3')).toEqual({ major: 21, minor: 0, patch: 0 });
    expect(parseLowestVersion('*')).toBeNull();
  });
});

describe('readInstalledNxVersion', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'fleet-nx-version-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const write = (rel: string, json: unknown): void => {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), JSON.stringify(json));
  };

  it('reads node_modules/nx/package.json', () => {
    write('package.json', { devDependencies: { nx: '^19.8.0' } });
    write('node_modules/nx/package.json', { name: 'nx', version: '20.8.4' });
    expect(readInstalledNxVersion(root)).toBe('20.8.4');
  });

  it('resolves nx from a parent folder like Node does', () => {
    write('node_modules/nx/package.json', { name: 'nx', version: '19.8.14' });
    const nested = join(root, 'apps', 'web');
    mkdirSync(nested, { recursive: true });
    expect(readInstalledNxVersion(nested)).toBe('19.8.14');
  });

  it('falls back to the package.json dependency range', () => {
    write('package.json', { devDependencies: { nx: '~21.6.0' } });
    expect(readInstalledNxVersion(root)).toBe('~21.6.0');
    write('package.json', { dependencies: { nx: '20.1.0' }, devDependencies: { nx: '19.0.0' } });
    expect(readInstalledNxVersion(root)).toBe('20.1.0');
  });

  it('returns null when nothing names nx', () => {
    write('package.json', { devDependencies: { typescript: '5.8.3' } });
    expect(readInstalledNxVersion(root)).toBeNull();
  });

  it('ignores an unreadable package.json', () => {
    writeFileSync(join(root, 'package.json'), '{ not json');
    expect(readInstalledNxVersion(root)).toBeNull();
  });

  it('nxRangeFromPackageJson handles missing input', () => {
    expect(nxRangeFromPackageJson(null)).toBeNull();
    expect(nxRangeFromPackageJson({ devDependencies: { nx: ' ' } })).toBeNull();
  });
});

describe('nxPackageVersion', () => {
  it('names the Nx that Node resolves from the workspace root (a parent folder too)', () => {
    const root = mkdtempSync(join(tmpdir(), 'fleet-nx-resolve-'));
    try {
      mkdirSync(join(root, 'node_modules', 'nx'), { recursive: true });
      writeFileSync(join(root, 'node_modules', 'nx', 'package.json'), JSON.stringify({ name: 'nx', version: '22.7.12' }));
      mkdirSync(join(root, 'apps', 'web'), { recursive: true });
      expect(nxPackageVersion(root)).toBe('22.7.12');
      expect(nxPackageVersion(join(root, 'apps', 'web'))).toBe('22.7.12');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('throws where no Nx can be resolved (unlike readInstalledNxVersion, which falls back)', () => {
    const root = mkdtempSync(join(tmpdir(), 'fleet-nx-resolve-'));
    try {
      writeFileSync(join(root, 'package.json'), JSON.stringify({ devDependencies: { nx: '21.6.11' } }));
      // tmpdir has no node_modules/nx above it; the fallback is readInstalledNxVersion's alone
      expect(readInstalledNxVersion(root)).toBe('21.6.11');
      expect(() => nxPackageVersion(root)).toThrow();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('nxCacheKind', () => {
  const none = {};
  const legacyOn = { useLegacyCache: true };
  it.each([
    // 18.x / 19.x: the database cache only when NX_DB_CACHE=true
    ['18.2.0', none, {}, 'legacy'],
    ['18.2.0', none, { NX_DB_CACHE: 'true' }, 'http'],
    ['19.8.0', none, {}, 'legacy'],
    ['19.8.14', none, {}, 'legacy'],
    ['19.8.14', none, { NX_DB_CACHE: 'true' }, 'http'],
    ['19.8.14', none, { NX_DB_CACHE: '1' }, 'legacy'],
    // 20.0 – 20.7: legacy, whatever is set
    ['20.0.0', none, {}, 'legacy'],
    ['20.7.2', none, {}, 'legacy'],
    ['20.7.2', none, { NX_DB_CACHE: 'true' }, 'legacy'],
    // 20.8+: the database cache unless nx.json opts out
    ['20.8.0', none, {}, 'http'],
    ['20.8.4', none, {}, 'http'],
    ['20.8.4', legacyOn, {}, 'legacy'],
    ['20.8.4', { useLegacyCache: 'true' }, {}, 'http'],
    ['^20.8.0', none, {}, 'http'],
    // 21+: only the database cache
    ['21.0.0', none, {}, 'http'],
    ['21.0.0', legacyOn, {}, 'http'],
    ['21.6.11', none, {}, 'http'],
    ['24.0.6', legacyOn, {}, 'http'],
    ['24.99.0', none, {}, 'http'],
    ['25.0.0', none, {}, 'http'],
    // unreadable: as 19.x
    ['latest', none, {}, 'legacy'],
    ['latest', none, { NX_DB_CACHE: 'true' }, 'http'],
  ] as const)('%s with nx.json %j and env %j -> %s', (version, nxJson, env, kind) => {
    expect(nxCacheKind(version, nxJson, env)).toBe(kind);
  });
});

describe('supported range boundaries', () => {
  it.each([
    ['18.2.0', 'unsupported'],
    ['19.7.99', 'unsupported'],
    ['19.8.0', 'runner'],
    ['19.9.0', 'runner'],
    ['20.7.2', 'runner'],
    ['20.8.0', 'runner'],
    ['20.99.0', 'runner'],
    ['21.0.0', 'plugin'],
    ['24.0.0', 'plugin'],
    ['24.99.99', 'plugin'],
    ['25.0.0', 'unsupported'],
  ])('%s -> %s', (version, kind) => {
    expect(classifyNxVersion(version).kind).toBe(kind);
  });

  it('describes the range with the same text as before', () => {
    expect(SUPPORTED_RANGE_TEXT).toBe('Nx 19.8 to 24.x (19.8–20.x through the tasks runner, 21–24 through the plugin)');
  });
});

/** A version inside a `>=a.b.c <x.y.z` range (the only form the peer ranges use). */
function inRange(version: string, range: string): boolean {
  const m = /^>=(\d+)\.(\d+)\.(\d+) <(\d+)\.(\d+)\.(\d+)$/.exec(range);
  if (!m) throw new Error(`not a ">=a.b.c <x.y.z" range: ${range}`);
  const v = version.split('.').map(Number);
  const cmp = (a: number[], b: number[]): number => a[0]! - b[0]! || a[1]! - b[1]! || a[2]! - b[2]!;
  const low = m.slice(1, 4).map(Number);
  const high = m.slice(4, 7).map(Number);
  return cmp(v, low) >= 0 && cmp(v, high) < 0;
}

describe("nx-fleet's peerDependencies", () => {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { peerDependencies?: Record<string, string> };

  it('the supported peer range is computed from the range constants', () => {
    const { major, minor, patch } = RUNNER_RANGE.from;
    expect(SUPPORTED_PEER_RANGE).toBe(`>=${major}.${minor}.${patch} <${PLUGIN_RANGE.toInclusiveMajor + 1}.0.0`);
    expect(SUPPORTED_PEER_RANGE).toBe('>=19.8.0 <25.0.0');
  });

  it.each(['nx', '@nx/devkit'])('%s is declared with exactly the range nx-version.ts supports', (name) => {
    expect(pkg.peerDependencies?.[name]).toBe(SUPPORTED_PEER_RANGE);
  });

  it('accepts exactly the versions classifyNxVersion supports', () => {
    for (let major = 17; major <= 26; major++) {
      for (const minor of [0, 1, 7, 8, 9, 20]) {
        for (const patch of [0, 5]) {
          const v = `${major}.${minor}.${patch}`;
          expect([v, inRange(v, SUPPORTED_PEER_RANGE)]).toEqual([v, classifyNxVersion(v).kind !== 'unsupported']);
        }
      }
    }
  });

  it.each(['19.8.14', '20.8.4', '21.6.11', '22.7.12', '23.3.2', '24.0.6'])('the tested Nx %s is supported', (v) => {
    expect(classifyNxVersion(v).kind).not.toBe('unsupported');
    expect(inRange(v, pkg.peerDependencies?.nx ?? '')).toBe(true);
  });

  it.each(['18.2.0', '25.0.0'])('Nx %s is not', (v) => {
    expect(classifyNxVersion(v).kind).toBe('unsupported');
    expect(inRange(v, pkg.peerDependencies?.nx ?? '')).toBe(false);
  });
});
