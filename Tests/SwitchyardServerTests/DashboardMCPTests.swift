import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwitchyardCore
import SwitchyardTesting
import Testing

@testable import SwitchyardServer

/// The dashboard's MCP page (`/ui/mcp`) through HTTP: the configured servers with their health
/// (a stdio server that keeps exiting is restarted and counted), the tools they list (names from
/// upstream servers escaped), the recent calls from the audit trail, paged and filtered, and
/// scoped to a team admin's team.
@Suite struct DashboardMCPTests {
    static let key = DashboardTests.masterKey

    /// The dashboard's gateway with `mcp:` servers: `alpha` (a mock with a tool named like
    /// markup), `crashy` (a stdio command that exits at once) and `gone` (nothing listens).
    static func withServers(_ test: @escaping @Sendable (any TestClientProtocol, SwitchyardApplication) async throws -> Void) async throws {
        let alpha = try await RunningMCPServer(
            MockMCPServer(name: "alpha", extraTools: [(name: "<script>alert(1)</script>", description: "<img src=x onerror=alert(2)> lists things")]))
        let extra = """
            mcp:
              servers:
                - {name: alpha, url: "\(alpha.url)", prefix: a}
                - {name: crashy, command: "false", prefix: c, restart_delay: 20ms, max_restart_delay: 50ms, timeout: 2s}
                - {name: gone, url: "http://127.0.0.1:1/mcp", prefix: g, timeout: 2s}
            """
        do {
            let (application, _) = try makeGateway(DashboardTests.config(extra))
            try await application.makeApplication().test(.live) { client in try await test(client, application) }
        } catch {
            await alpha.stop()
            throw error
        }
        await alpha.stop()
    }

    static func call(_ client: any TestClientProtocol, _ session: String, _ tool: String, credential: String = key) async throws -> TestResponse {
        try await MCPTests.rpc(client, session, "tools/call", MCPTests.call(tool, ["text": "hello", "a": 1, "b": 2]), credential: credential)
    }

    /// The `href` of the page's "Older →" link, unescaped.
    static func olderLink(_ html: String) -> String? {
        guard let range = html.range(of: #"rel="next" href=""#) else { return nil }
        return String(html[range.upperBound...].prefix { $0 != "\"" }).replacingOccurrences(of: "&amp;", with: "&")
    }

    /// The rows of the recent-calls table.
    static func callRows(_ html: String) -> [Substring] {
        guard let start = html.range(of: #"data-table="mcp-calls""#) else { return [] }
        let body = html[start.upperBound...].components(separatedBy: "</table>").first ?? ""
        return body.components(separatedBy: "<tr>").dropFirst(2).map { Substring($0) }
    }

    @Test func withoutServersThePageSaysHowToConfigureThem() async throws {
        let (application, _) = try makeGateway(DashboardTests.config())
        try await application.makeApplication().test(.live) { client in
            let browser = try await DashboardTests.login(client)
            let page = try await DashboardTests.get(client, "/ui/mcp", browser)
            #expect(page.status == .ok)
            #expect(page.text.contains(#"<a href="/ui/mcp" aria-current="page">MCP</a>"#), "the navigation marks the page")
            #expect(page.text.contains("No MCP servers are configured") && page.text.contains("mcp.servers"))
            #expect(!page.text.contains(#"data-table="mcp-servers""#))
            #expect(page.text.contains(#"<p class="empty" data-table="mcp-calls">No MCP calls match.</p>"#))
            let overview = try await DashboardTests.get(client, "/ui", browser)
            #expect(overview.text.contains(#"<a href="/ui/mcp">MCP</a>"#), "every page links to it")
        }
    }

    @Test func serversHealthToolsAndRecentCallsArePagedAndEscaped() async throws {
        try await Self.withServers { client, application in
            let session = try await MCPTests.initialize(client, credential: Self.key)
            #expect(try await Self.call(client, session, "a_echo").json?["result"] != nil)
            #expect(try await Self.call(client, session, "a_add").json?["result"] != nil)
            let refused = try await Self.call(client, session, "g_echo")
            #expect(refused.json?["error"]?["data"]?["reason"] != nil || refused.json?["error"] != nil, "\(refused.text)")

            let browser = try await DashboardTests.login(client)
            // The stdio command exits at once: the supervisor keeps starting it again.
            var page = try await DashboardTests.get(client, "/ui/mcp", browser)
            let restarted = try await eventually {
                page = try await DashboardTests.get(client, "/ui/mcp", browser)
                guard let row = page.text.range(of: #"data-server="crashy""#),
                    let range = page.text.range(of: #"data-restarts=""#, range: row.upperBound..<page.text.endIndex),
                    let count = Int(page.text[range.upperBound...].prefix { $0.isNumber })
                else { return false }
                return count >= 2
            }
            #expect(restarted, "\(page.text)")
            #expect(page.status == .ok)
            let text = page.text
            #expect(text.contains(#"data-server="alpha""#) && text.contains(#"data-server="crashy""#) && text.contains(#"data-server="gone""#))
            #expect(text.contains(#"<td data-health="up"><span class="badge ok">up</span></td>"#), "alpha answered")
            #expect(text.components(separatedBy: #"data-health="down""#).count >= 2, "gone is down (and crashy, between its starts)")
            #expect(text.contains("streamable http") && text.contains("stdio") && text.contains("<code>false</code>"))
            #expect(text.contains("Not listed: crashy, gone") || text.contains("Not listed: gone, crashy") || text.contains("gone did not"))

            // Tools as clients see them; names and descriptions from a server are escaped.
            #expect(text.contains(#"data-tool="a_echo""#) && text.contains(#"data-tool="a_add""#))
            #expect(text.contains("a_&lt;script&gt;alert(1)&lt;/script&gt;"))
            #expect(text.contains("&lt;img src=x onerror=alert(2)&gt; lists things"))
            #expect(!text.contains("<script>alert") && !text.contains("<img src=x"))

            // Recent calls, newest first: who, server, tool, outcome, duration.
            let rows = Self.callRows(text)
            #expect(rows.count == 3, "\(rows)")
            #expect(rows.first?.contains("g_echo") == true && rows.first?.contains(#"data-outcome="failed""#) == true)
            #expect(rows.first?.contains("server_unavailable") == true)
            #expect(rows.last?.contains("echo") == true && rows.last?.contains(#"data-outcome="success""#) == true)
            #expect(rows.last?.contains("<td>master</td><td>alpha</td>") == true && rows.last?.contains("tools/call") == true)
            // (in seconds when a loaded machine took a second or more)
            #expect(rows.last?.contains(" ms</td>") == true || rows.last?.contains(" s</td>") == true, "the call's duration")

            // Paging: one call a page, older pages through the link.
            let first = try await DashboardTests.get(client, "/ui/mcp?limit=1", browser)
            #expect(Self.callRows(first.text).count == 1 && Self.callRows(first.text).first?.contains("g_echo") == true)
            let older = try #require(Self.olderLink(first.text))
            #expect(older.hasPrefix("/ui/mcp?limit=1&before="))
            let second = try await DashboardTests.get(client, older, browser)
            #expect(Self.callRows(second.text).count == 1 && Self.callRows(second.text).first?.contains("a_add") == false)
            #expect(Self.callRows(second.text).first?.contains("<code>add</code>") == true)
            #expect(second.text.contains(">Newest</a>"))

            // Filters: by server (the refused call names none) and by caller.
            let alphaOnly = try await DashboardTests.get(client, "/ui/mcp?server=alpha", browser)
            #expect(Self.callRows(alphaOnly.text).count == 2 && !alphaOnly.text.contains("<code>g_echo</code>"))
            let nobody = try await DashboardTests.get(client, "/ui/mcp?actor=someone-else", browser)
            #expect(nobody.text.contains("No MCP calls match."))
            _ = application
        }
    }

    @Test func aTeamAdminSeesOnlyItsTeamsCalls() async throws {
        try await Self.withServers { client, _ in
            func createKey(_ body: String) async throws -> (id: String, key: String) {
                let created = try await DashboardTests.api(client, "/admin/keys", body).json
                return (try #require(created?["id"]?.stringValue), try #require(created?["key"]?.stringValue))
            }
            let lead = try await createKey(#"{"name":"research-lead","team_id":"research","roles":["team_admin"]}"#)
            let researcher = try await createKey(#"{"name":"researcher","team_id":"research"}"#)
            let seller = try await createKey(#"{"name":"seller","team_id":"sales"}"#)
            for caller in [researcher, seller] {
                let session = try await MCPTests.initialize(client, credential: caller.key)
                #expect(try await Self.call(client, session, "a_echo", credential: caller.key).json?["result"] != nil)
            }
            let masterSession = try await MCPTests.initialize(client, credential: Self.key)
            _ = try await Self.call(client, masterSession, "a_add")

            let browser = try await DashboardTests.login(client, key: lead.key)
            let page = try await DashboardTests.get(client, "/ui/mcp", browser)
            #expect(page.status == .ok)
            #expect(page.text.contains("Calls by callers of team research only."))
            let rows = Self.callRows(page.text)
            #expect(rows.count == 1 && rows.first?.contains(researcher.id) == true, "\(rows)")
            #expect(!page.text.contains(seller.id) && !page.text.contains("<td>master</td>"))
            #expect(page.text.contains(#"data-server="alpha""#), "servers and tools are shown to every admin")

            let admin = try await DashboardTests.login(client)
            let all = try await DashboardTests.get(client, "/ui/mcp", admin)
            #expect(Self.callRows(all.text).count == 3)
        }
    }
}
