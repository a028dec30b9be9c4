extension MCPHub {
    /// A server's tools as clients see them (names with the server's prefix), asked of the
    /// server now; nil when it does not answer or is not configured. For the dashboard: the
    /// call is not governed or audited, as it lists configuration rather than serving a caller.
    public func tools(of server: String) async -> [JSONValue]? {
        guard let upstream = upstream(named: server) else { return nil }
        return await Self.fetchList(.tools, from: upstream)?.map(\.0)
    }
}
