import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classifyNxVersion, nxRangeFromPackageJson, parseLowestVersion, readInstalledNxVersion } from './nx-version';

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
