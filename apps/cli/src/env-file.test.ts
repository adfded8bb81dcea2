import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setEnvVar } from './env-file';

describe('setEnvVar', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-envfile-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('replaces the first assignment, drops later ones, keeps comments, blank lines, CRLF content and the mode', () => {
    const file = path.join(dir, '.env');
    fs.writeFileSync(file, '# top\r\nA=1\r\n\r\n  export  SECRET_X = "old"\r\nSECRET_XY=other\r\nSECRET_X=older\r\n', { mode: 0o640 });
    expect(setEnvVar(file, 'SECRET_X', 'NEW0123')).toBe('replaced');
    expect(fs.readFileSync(file, 'utf8')).toBe('# top\nA=1\n\nSECRET_X=NEW0123\nSECRET_XY=other\n');
    expect(fs.statSync(file).mode & 0o777).toBe(0o640);
    expect(fs.readdirSync(dir)).toEqual(['.env']);
  });

  it('appends to a file without the variable, creates a missing file 0600, quotes values that need it', () => {
    const file = path.join(dir, 'new.env');
    expect(setEnvVar(file, 'TOKEN', 'a b"c')).toBe('added');
    expect(fs.readFileSync(file, 'utf8')).toBe('TOKEN="a b\\"c"\n');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(setEnvVar(file, 'OTHER', 'x/y+z=')).toBe('added');
    expect(fs.readFileSync(file, 'utf8')).toBe('TOKEN="a b\\"c"\nOTHER="x/y+z="\n');
  });

  it('refuses a value with a line break and a name that is not one', () => {
    const file = path.join(dir, '.env');
    expect(() => setEnvVar(file, 'X', 'a\nB=2')).toThrow(/line break/);
    expect(() => setEnvVar(file, 'X=Y', 'a')).toThrow(/not an environment variable name/);
    expect(fs.existsSync(file)).toBe(false);
  });
});
