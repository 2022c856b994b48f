import { spawn } from 'node:child_process';
import { descendantsOf, processTable } from './agent';

describe('descendantsOf', () => {
  it('lists children, grandchildren and further, nearest first, and nothing outside the tree', () => {
    const table: Array<[number, number]> = [
      [1, 1],
      [10, 1],
      [11, 10],
      [12, 10],
      [13, 11],
      [14, 13],
      [20, 1],
      [21, 20],
    ];
    expect(descendantsOf(10, table)).toEqual([11, 12, 13, 14]);
    expect(descendantsOf(14, table)).toEqual([]);
    expect(descendantsOf(99, table)).toEqual([]);
  });

  it('survives a cycle in a garbled table', () => {
    expect(descendantsOf(1, [[2, 1], [1, 2]])).toEqual([2]);
  });
});

describe('processTable', () => {
  it("finds a shell's background child, which its shell's own end would leave running", async () => {
    const shell = spawn('sh', ['-c', 'sleep 30 & echo $!; wait'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const sleepPid = await new Promise<number>((resolve) => shell.stdout.once('data', (d: Buffer) => resolve(Number(String(d).trim()))));
    try {
      expect(descendantsOf(shell.pid!, processTable())).toContain(sleepPid);
    } finally {
      for (const pid of [sleepPid, shell.pid!]) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
  });
});
