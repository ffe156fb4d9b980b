import type { Command } from '../command.ts'
import { groupRun } from './group.ts'

const run: Command = {
  name: 'run',
  summary: 'run one scenario and write summary.json, CSV tables, SVG plots and run.json',
  dataDir: 'none',
  positionals: [{ name: 'scenario.yaml', description: 'the scenario (see sim/scenarios/ and docs/sim.md)' }],
  flags: [
    { name: 'seed', type: 'number', integer: true, min: 0, metavar: 'S', description: 'seed (default: the scenario\'s)' },
    { name: 'out', type: 'string', default: 'sim-out', metavar: 'DIR', description: 'output directory' }
  ],
  run: async ctx => (await import('./sim-impl.ts')).runSimRun(ctx.options, ctx)
}

const sweep: Command = {
  name: 'sweep',
  summary: 'run a scenario over values of one parameter, R runs each; --shard i/n runs one share',
  dataDir: 'none',
  positionals: [{ name: 'scenario.yaml', description: 'the scenario' }],
  flags: [
    { name: 'param', type: 'string', metavar: 'PATH=V1,V2,…', description: 'dotted scenario field and its values, e.g. paths.adversary.fraction=0.05,0.1,0.2' },
    { name: 'runs', type: 'number', default: 1, integer: true, min: 1, max: 1000, metavar: 'R', description: 'runs per value (confidence intervals need ≥ 2)' },
    { name: 'seed', type: 'number', integer: true, min: 0, metavar: 'S', description: 'base seed (default: the scenario\'s)' },
    { name: 'shard', type: 'string', metavar: 'I/N', description: 'run only share I of N (for batch schedulers); combine with \'veil sim merge\'' },
    { name: 'out', type: 'string', default: 'sim-out', metavar: 'DIR', description: 'output directory' }
  ],
  run: async ctx => (await import('./sim-impl.ts')).runSimSweep(ctx.options, ctx)
}

const merge: Command = {
  name: 'merge',
  summary: 'combine the shard directories of a sweep into the same tables and plots',
  dataDir: 'none',
  positionals: [{ name: 'DIR…', description: 'shard output directories' }],
  flags: [
    { name: 'out', type: 'string', default: 'sim-out', metavar: 'DIR', description: 'output directory' }
  ],
  run: async ctx => (await import('./sim-impl.ts')).runSimMerge(ctx.options, ctx)
}

export const simCommand: Command = {
  name: 'sim',
  summary: 'simulate the network on a virtual clock (DHT, path compromise)',
  details: 'The simulator runs Veil\'s own path-selection and placement code on a virtual clock.\n' +
    'It runs from a source checkout (sim/ is not in the published package). See docs/sim.md.',
  dataDir: 'none',
  flags: [],
  subcommands: [run, sweep, merge],
  run: groupRun(['sim'], [run, sweep, merge])
}
