// An Express app: `distill build examples/node-express --output oci-archive:express.tar`.
const express = require('express');

const app = express();
app.get('/', (req, res) => {
  res.type('text/plain').send(`hello from express on node ${process.version} (${process.arch})\n`);
});
app.get('/health', (req, res) => res.send('ok\n'));

const port = Number(process.env.PORT || 8080);
const server = app.listen(port, '0.0.0.0', () => console.log(`listening on ${port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
