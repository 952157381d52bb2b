// What a browser page imports of the MCP TypeScript SDK: the client and its Streamable HTTP transport, bundled by bundleMcpSdk().
export { Client } from '@modelcontextprotocol/sdk/client/index.js';
export { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
