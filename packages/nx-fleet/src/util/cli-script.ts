import { resolve } from 'node:path';

/** The nx-fleet CLI script of this installation, for the processes Fleet starts itself (relay, heartbeat). */
export const CLI_SCRIPT = resolve(__dirname, '../../bin/nx-fleet.js');
