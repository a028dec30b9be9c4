/// A small MCP server over stdio, for tests: a POSIX shell script (run it with `/bin/sh`), so
/// tests need no other runtime. It lists the tools `echo` and `grow`; calling `grow` adds the
/// tool `grown` and writes `notifications/tools/list_changed`. It reads the fields it
/// needs from each line with `sed`, which is enough for the gateway's compact JSON.
public enum MockStdioMCPServer {
    public static let script = #"""
        tools='{"name":"echo","inputSchema":{"type":"object"}},{"name":"grow","inputSchema":{"type":"object"}}'
        answer() { printf '{"jsonrpc":"2.0","id":%s,%s}\n' "$1" "$2"; }
        while IFS= read -r line; do
          id=$(printf '%s' "$line" | sed -n 's/.*"id":\([0-9][0-9]*\).*/\1/p')
          method=$(printf '%s' "$line" | sed -n 's/.*"method":"\([^"]*\)".*/\1/p')
          [ -z "$id" ] && continue
          case "$method" in
            initialize)
              answer "$id" '"result":{"protocolVersion":"2025-06-18","capabilities":{"tools":{"listChanged":true}},"serverInfo":{"name":"sh","version":"1"}}' ;;
            ping) answer "$id" '"result":{}' ;;
            tools/list) answer "$id" "\"result\":{\"tools\":[$tools]}" ;;
            tools/call)
              case "$line" in
                *'"name":"grow"'*)
                  tools="$tools"',{"name":"grown","inputSchema":{"type":"object"}}'
                  answer "$id" '"result":{"content":[{"type":"text","text":"grown"}]}'
                  printf '%s\n' '{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}' ;;
                *) answer "$id" '"result":{"content":[{"type":"text","text":"echoed"}]}' ;;
              esac ;;
            *) answer "$id" '"error":{"code":-32601,"message":"Method not found"}' ;;
          esac
        done
        """#
}
