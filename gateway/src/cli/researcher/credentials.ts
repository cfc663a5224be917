// Where `tessera login` keeps a researcher's tokens: one file in the user's
// configuration directory ($XDG_CONFIG_HOME/tessera on Linux, by env-paths
// elsewhere), readable by its owner only (0600, in a 0700 directory), one
// entry per gateway URL. Nothing else is ever written there.
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import envPaths from 'env-paths';

export interface StoredCredential {
  readonly accessToken: string;
  /** Epoch seconds. */
  readonly expiresAt: number;
  /** How it was obtained: a researcher's device sign-in, or a service account's client credentials. */
  readonly grant: 'device' | 'client-credentials';
  readonly issuer: string;
  readonly clientId: string;
}

interface CredentialFile {
  readonly version: 1;
  readonly gateways: Record<string, StoredCredential>;
}

/** The credentials file; `TESSERA_CONFIG_DIR` overrides the directory. */
export function credentialsPath(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.TESSERA_CONFIG_DIR ?? envPaths('tessera', { suffix: '' }).config;
  return join(dir, 'credentials.json');
}

async function readAll(path: string): Promise<CredentialFile> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<CredentialFile>;
    if (parsed.version === 1 && typeof parsed.gateways === 'object' && parsed.gateways !== null) {
      return { version: 1, gateways: { ...parsed.gateways } };
    }
  } catch {
    // Absent or unreadable: as good as empty; the next login writes it anew.
  }
  return { version: 1, gateways: {} };
}

async function writeAll(path: string, file: CredentialFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  // writeFile's mode applies only to a new file; an old one may have been looser.
  await chmod(path, 0o600);
}

export async function loadCredential(
  path: string,
  gateway: string,
): Promise<StoredCredential | undefined> {
  const file = await readAll(path);
  return Object.hasOwn(file.gateways, gateway) ? file.gateways[gateway] : undefined;
}

export async function saveCredential(
  path: string,
  gateway: string,
  credential: StoredCredential,
): Promise<void> {
  const file = await readAll(path);
  await writeAll(path, { version: 1, gateways: { ...file.gateways, [gateway]: credential } });
}

/** Forgets a gateway's credential; returns whether there was one. The file goes when empty. */
export async function forgetCredential(path: string, gateway: string): Promise<boolean> {
  const file = await readAll(path);
  if (!Object.hasOwn(file.gateways, gateway)) return false;
  const gateways = Object.fromEntries(Object.entries(file.gateways).filter(([g]) => g !== gateway));
  if (Object.keys(gateways).length === 0) await rm(path, { force: true });
  else await writeAll(path, { version: 1, gateways });
  return true;
}
