// nginx as a plain process on loopback for the tests that put it in front of certbound
// (test/security/proxy-header-injection, test/faults/proxies): where the binary is, the minimal
// main configuration around an http {} body, and the `nginx -t` check before it is started.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const NGINX = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx'].find((p) => existsSync(p));

/**
 * Writes `dir`/nginx.conf (pid, logs and temp paths inside `dir`, the given http {} body) and checks
 * it with `nginx -t`; on a refusal `dir` is removed and the error carries nginx's words and the
 * configuration. Returns the arguments that run it in the foreground.
 */
export async function writeNginxConf(dir: string, options: { workerConnections: number; http: string; what: string }): Promise<string[]> {
  if (!NGINX) throw new Error('nginx is not installed: apt-get install nginx-light (.ci/run does)');
  const conf = `
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections ${options.workerConnections}; }
http {
    access_log off;
    client_body_temp_path ${dir}/client_body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;
${options.http}
}
`;
  await writeFile(join(dir, 'nginx.conf'), conf);
  const args = ['-e', join(dir, 'error.log'), '-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'];
  try {
    execFileSync(NGINX, [...args, '-t'], { stdio: 'pipe' });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`nginx -t refused ${options.what}:\n${String((err as { stderr?: Buffer }).stderr ?? '')}\n${conf}`, { cause: err });
  }
  return args;
}
