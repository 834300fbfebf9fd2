// Cloud metadata from Node (undici fetch and the http module).
/* global console, fetch, AbortSignal */
const viaHttp = async () => {
  const http = await import('node:http');
  return new Promise((resolve) => {
    const req = http.get('http://169.254.169.254/latest/meta-data/', (res) => resolve(`ESCAPED: http ${res.statusCode}`));
    req.on('error', (e) => resolve(`refused http ${e.code}`));
    req.setTimeout(2000, () => req.destroy(new Error('timeout')));
  });
};

async function main() {
  console.log('REDTEAM node metadata');
  try {
    const res = await fetch('http://169.254.169.254/latest/meta-data/', { signal: AbortSignal.timeout(2000) });
    console.log('ESCAPED: fetch', res.status);
  } catch (e) {
    console.log('refused fetch', e.cause?.code ?? e.name);
  }
  console.log(await viaHttp());
}

void main();
