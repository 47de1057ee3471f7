/**
 * Where `models.import` looks for a checkpoint: the path a writer types (`~/models/gpt2`, a
 * folder relative to their home, as the README's own example has it) resolved on the machine
 * the back end runs on, which in serve mode may not be the one the browser runs on — so every
 * problem with the path says which machine it means.
 */
import { statSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { ApiError } from '../../shared/api';

/** The machine the back end runs on, as a path is resolved there. */
export interface MachineContext {
  homedir: string;
  hostname: string;
  /** How the UI reaches the back end: the desktop app runs on the writer's computer, serve mode perhaps not. */
  transport: 'electron' | 'http';
}

/** This machine. */
export function thisMachine(transport: MachineContext['transport']): MachineContext {
  return { homedir: homedir(), hostname: hostname(), transport };
}

/** "this computer (host)" or "the computer running inkwell serve (host)". */
export function describeMachine(machine: MachineContext): string {
  return machine.transport === 'electron' ? `this computer (${machine.hostname})` : `the computer running inkwell serve (${machine.hostname})`;
}

/** `input` with `~` expanded and a relative path taken from the home folder; absolute paths stay as they are. */
export function expandImportPath(input: string, machine: MachineContext): string {
  const path = input.trim();
  if (path === '~') return machine.homedir;
  if (path.startsWith('~/') || path.startsWith('~\\')) return join(machine.homedir, path.slice(2));
  if (path.startsWith('~')) {
    throw new ApiError('invalid_request', `"${path.slice(0, 80)}": only ~ (your own home folder) is expanded; give the full path on ${describeMachine(machine)}`);
  }
  return isAbsolute(path) ? resolve(path) : resolve(machine.homedir, path);
}

/** The checkpoint folder `input` names, checked to exist there; ApiError invalid_request saying what is wrong and where. */
export function resolveImportFolder(input: string, machine: MachineContext): string {
  const folder = expandImportPath(input, machine);
  const where = describeMachine(machine);
  let isFolder: boolean;
  try {
    isFolder = statSync(folder).isDirectory();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new ApiError('invalid_request', `there is no folder ${folder} on ${where}`);
    if (code === 'EACCES' || code === 'EPERM') throw new ApiError('invalid_request', `${folder} on ${where} cannot be read (permission denied)`);
    throw new ApiError('invalid_request', `${folder} on ${where} cannot be opened: ${(error as Error).message}`);
  }
  if (!isFolder) {
    throw new ApiError('invalid_request', `${folder} on ${where} is a file: give the folder that holds config.json and model.safetensors`);
  }
  return folder;
}
