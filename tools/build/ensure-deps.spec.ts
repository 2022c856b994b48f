import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { missingDependencies } = require('./ensure-deps.js') as { missingDependencies: (root: string) => string[] };

function write(file: string, json: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(json));
}

describe('ensure-deps (run first by npm run demo and npm test)', () => {
  it('finds nothing missing in this installed repository', () => {
    expect(missingDependencies(path.resolve(__dirname, '../..'))).toEqual([]);
  });

  it('names every dependency that is not installed, and workspaces that are not linked', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-ensure-deps-'));
    try {
      write(path.join(root, 'package.json'), { workspaces: ['packages/*'], devDependencies: { here: '1.0.0', gone: '1.0.0' } });
      write(path.join(root, 'packages/lib/package.json'), { name: '@x/lib', dependencies: { nested: '1.0.0', hoisted: '1.0.0', absent: '2.0.0' } });
      write(path.join(root, 'node_modules/here/package.json'), { name: 'here' });
      write(path.join(root, 'node_modules/hoisted/package.json'), { name: 'hoisted' });
      write(path.join(root, 'packages/lib/node_modules/nested/package.json'), { name: 'nested' });
      expect(missingDependencies(root)).toEqual([
        'gone (wanted by package.json)',
        '@x/lib (workspace packages/lib, not linked)',
        'absent (wanted by packages/lib)',
      ]);
      write(path.join(root, 'node_modules/@x/lib/package.json'), { name: '@x/lib' });
      write(path.join(root, 'node_modules/gone/package.json'), { name: 'gone' });
      write(path.join(root, 'node_modules/absent/package.json'), { name: 'absent' });
      expect(missingDependencies(root)).toEqual([]);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
