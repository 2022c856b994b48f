import { graphCommandArgs } from './task-graph';

const NODE = '/usr/bin/node';
const NX = '/ws/node_modules/nx/bin/nx.js';
const FILE = '/tmp/fleet-graph-1/graph.json';
const args = (...rest: string[]): string[] => graphCommandArgs([NODE, NX, ...rest], FILE);

describe('graphCommandArgs', () => {
  it('reruns the same command with --graph=<file>', () => {
    expect(args('run-many', '-t', 'build', '--parallel=3')).toEqual([NX, 'run-many', '-t', 'build', '--parallel=3', `--graph=${FILE}`]);
  });

  it('drops the command’s own --graph=<value> and bare --graph', () => {
    expect(args('affected', '-t', 'test', '--graph=out.json')).toEqual([NX, 'affected', '-t', 'test', `--graph=${FILE}`]);
    expect(args('affected', '--graph', '-t', 'test')).toEqual([NX, 'affected', '-t', 'test', `--graph=${FILE}`]);
    expect(args('build', 'app', '--graph')).toEqual([NX, 'build', 'app', `--graph=${FILE}`]);
  });

  it('drops the value of the two-argument form --graph <file> too', () => {
    // Nx's --graph is a string option: `--graph out.json` sets it to out.json; left in,
    // out.json would become a positional argument of the command
    expect(args('run-many', '-t', 'build', '--graph', 'out.json')).toEqual([NX, 'run-many', '-t', 'build', `--graph=${FILE}`]);
    expect(args('build', 'app', '--graph', 'stdout', '--verbose')).toEqual([NX, 'build', 'app', '--verbose', `--graph=${FILE}`]);
  });

  it('keeps options that only begin with "graph"', () => {
    expect(args('run', 'api:codegen', '--graphql-schema=schema.gql')).toEqual([NX, 'run', 'api:codegen', '--graphql-schema=schema.gql', `--graph=${FILE}`]);
  });

  it('puts --graph before a "--", leaving what follows it (the task’s arguments) alone', () => {
    expect(args('run', 'app:serve', '--', '--port', '3000', '--graph', 'x')).toEqual([
      NX,
      'run',
      'app:serve',
      `--graph=${FILE}`,
      '--',
      '--port',
      '3000',
      '--graph',
      'x',
    ]);
  });

  it('refuses an argv without node and script', () => {
    expect(() => graphCommandArgs([NODE], FILE)).toThrow(/cannot tell which Nx command is running/);
    expect(() => graphCommandArgs([], FILE)).toThrow(/cannot tell which Nx command is running/);
  });
});
