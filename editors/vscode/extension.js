// Starts `cnndsl lsp` for .cnn files; everything else (shapes, errors, hover...) comes from the server.
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const [command, ...args] = vscode.workspace.getConfiguration("cnndsl").get("server.command");
  const server = { command, args };
  client = new LanguageClient(
    "cnndsl",
    "cnndsl language server",
    { run: server, debug: server },
    { documentSelector: [{ language: "cnn" }] }
  );
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
