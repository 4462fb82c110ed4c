// The bare Node limit: node's http server answering fixed bytes (same reply as the
// uvicorn limit). Usage: node bench/limit_node.js PORT REPLY_JSON ; binds 127.0.0.1.
"use strict";
const http = require("http");
const fs = require("fs");
const [port, replyFile] = process.argv.slice(2);
const spec = JSON.parse(fs.readFileSync(replyFile, "utf8"));
const body = fs.readFileSync(spec.body_file);
const headers = {};
for (const [k, v] of spec.headers) headers[k] = v;
headers["content-length"] = String(body.length);
http.createServer((req, res) => {
  req.on("data", () => {});
  req.on("end", () => { res.writeHead(spec.status, headers); res.end(body); });
}).listen(Number(port), "127.0.0.1");
