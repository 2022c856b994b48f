/**
 * FC-12 (field cases): storage keys are built without the platform's path module, so they are POSIX
 * `<namespace>/<hash>` on every server OS. Loaded here with `node:path` replaced by its win32 flavour,
 * as on a Windows coordinator.
 */
describe('blob keys on a Windows server (FC-12)', () => {
  afterEach(() => {
    jest.resetModules();
    jest.dontMock('node:path');
    jest.dontMock('path');
  });

  function loadWithWin32Path(): { blobKey: (ns: string, hash: string) => string; FsBlobStore: new (root: string) => unknown } {
    jest.resetModules();
    const win32 = jest.requireActual<typeof import('node:path')>('node:path').win32;
    jest.doMock('node:path', () => win32);
    jest.doMock('path', () => win32);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const keys = require('./blob-store') as typeof import('./blob-store');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const fs = require('./fs/fs-blob-store') as typeof import('./fs/fs-blob-store');
    return { blobKey: keys.blobKey, FsBlobStore: fs.FsBlobStore };
  }

  it('blobKey is <namespace>/<hash> with forward slashes', () => {
    const { blobKey } = loadWithWin32Path();
    expect(require('node:path').sep).toBe('\\'); // the mock is in place
    expect(blobKey('default', '1234567890')).toBe('default/1234567890');
    expect(blobKey('pr-42', 'abc')).toBe('pr-42/abc');
  });

  it('the fs store refuses a key built with backslashes instead of reading some other file', async () => {
    const { FsBlobStore } = loadWithWin32Path();
    const store = new FsBlobStore('C:\\fleet\\blobs') as { read(key: string): Promise<unknown> };
    await expect(store.read('default\\1234')).rejects.toThrow(/invalid blob key/);
  });
});
