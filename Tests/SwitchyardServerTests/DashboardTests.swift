import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwitchyardCore
import SwitchyardStores
import Synchronization
import Testing

@testable import SwitchyardServer

/// The dashboard at `/ui` through its real HTTP interface: login, sessions, CSRF, what each
/// page shows after traffic, redaction of secrets and escaping of names.
@Suite struct DashboardTests {
    static let providerKey = "sk-provider-secret-0123456789"
    static let masterKey = "test-master-key-0123456789"

    static func config(_ extra: String = "", server: String = "") -> String {
        """
        server: {port: 0, master_key: \(masterKey), reload_check_interval: off\(server)}
        providers:
          - {name: p, type: mock, api_key: \(providerKey)}
        models:
          - name: chat
            deployments: [{provider: p, model: m, price: {input: 1000, output: 2000}}]
          - {name: other, provider: p, model: m2}
        \(extra)
        """
    }

    func withGateway(
        _ extra: String = "", server: String = "", _ test: @escaping @Sendable (any TestClientProtocol, SwitchyardApplication) async throws -> Void
    ) async throws {
        let (application, _) = try makeGateway(Self.config(extra, server: server))
        try await application.makeApplication().test(.live) { client in try await test(client, application) }
    }

    // MARK: Browser-like helpers

    /// A signed-in browser: its session cookie and the CSRF token its pages carry.
    struct Browser {
        var session: String
        var csrf: String
        var cookie: HTTPFields { [.cookie: "\(DashboardSessions.cookieName)=\(session)"] }
    }

    static func cookie(_ response: TestResponse, _ name: String) -> String? {
        response.headers[values: .setCookie].first { $0.hasPrefix(name + "=") }
    }

    static func cookieValue(_ response: TestResponse, _ name: String) -> String? {
        cookie(response, name).map { String($0.dropFirst(name.count + 1).prefix { $0 != ";" }) }
    }

    /// The value of the hidden `csrf` field of a page.
    static func csrfField(_ html: String) -> String? {
        guard let range = html.range(of: #"name="csrf" value=""#) else { return nil }
        return String(html[range.upperBound...].prefix { $0 != "\"" })
    }

    static func form(_ fields: [(String, String)]) -> ByteBuffer {
        ByteBuffer(string: fields.map { "\($0.0)=\(HTML.percentEncode($0.1))" }.joined(separator: "&"))
    }

    static let formHeaders: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]

    /// Opens the login form and submits `key` through it, as a browser would.
    static func submitLogin(_ client: any TestClientProtocol, key: String, extra: HTTPFields = [:]) async throws -> TestResponse {
        let form = try await client.execute(uri: "/ui/login", method: .get)
        #expect(form.status == .ok)
        let token = try #require(cookieValue(form, DashboardSessions.loginCookieName))
        #expect(csrfField(form.text) == token, "the form carries the cookie's token (double submit)")
        var headers = formHeaders
        headers[.cookie] = "\(DashboardSessions.loginCookieName)=\(token)"
        for field in extra { headers.append(field) }
        return try await client.execute(
            uri: "/ui/login", method: .post, headers: headers, body: Self.form([("key", key), ("csrf", token), ("next", "/ui")]))
    }

    static func login(_ client: any TestClientProtocol, key: String = masterKey) async throws -> Browser {
        let response = try await submitLogin(client, key: key)
        #expect(response.status == .seeOther, "\(response.text)")
        let session = try #require(cookieValue(response, DashboardSessions.cookieName))
        let page = try await client.execute(uri: "/ui", method: .get, headers: [.cookie: "\(DashboardSessions.cookieName)=\(session)"])
        #expect(page.status == .ok)
        return Browser(session: session, csrf: try #require(csrfField(page.text)))
    }

    static func get(_ client: any TestClientProtocol, _ uri: String, _ browser: Browser) async throws -> TestResponse {
        try await client.execute(uri: uri, method: .get, headers: browser.cookie)
    }

    static func api(_ client: any TestClientProtocol, _ uri: String, _ body: String) async throws -> TestResponse {
        try await client.execute(
            uri: uri, method: .post, headers: [.authorization: "Bearer \(masterKey)", .contentType: "application/json"],
            body: ByteBuffer(string: body))
    }

    static func chat(_ client: any TestClientProtocol, model: String = "chat", key: String = masterKey) async throws -> TestResponse {
        try await client.execute(
            uri: "/v1/chat/completions", method: .post, headers: [.authorization: "Bearer \(key)", .contentType: "application/json"],
            body: ByteBuffer(string: #"{"model":"\#(model)","messages":[{"role":"user","content":"hello"}]}"#))
    }

    static func auditRecords(_ application: SwitchyardApplication, action: String) async throws -> [AuditRecordSummary] {
        try await application.audit.list(limit: 1000).filter { $0.action == action }.map {
            AuditRecordSummary(actor: $0.actor, outcome: $0.outcome, reason: $0.reason)
        }
    }

    struct AuditRecordSummary: Equatable {
        var actor: String
        var outcome: String
        var reason: String?
    }

    // MARK: Tests

    @Test func pagesRedirectToTheLoginFormUntilSignedIn() async throws {
        try await withGateway { client, _ in
            for path in ["/ui", "/ui/models", "/ui/keys", "/ui/requests", "/ui/requests/req_1", "/ui/mcp", "/ui/audit", "/ui/config"] {
                let response = try await client.execute(uri: path, method: .get)
                #expect(response.status == .seeOther, "\(path)")
                #expect(response.headers[.location] == "/ui/login?next=" + HTML.percentEncode(path))
                #expect(response.headers[.cacheControl] == "no-store")
            }
            let bogus = try await client.execute(
                uri: "/ui/keys", method: .get, headers: [.cookie: "\(DashboardSessions.cookieName)=\(String(repeating: "a", count: 64))"])
            #expect(bogus.status == .seeOther, "an unknown session id is no session")

            let form = try await client.execute(uri: "/ui/login?next=/ui/requests", method: .get)
            #expect(form.status == .ok)
            #expect(form.headers[.contentType] == "text/html; charset=utf-8")
            #expect(form.text.contains(#"<form class="login" method="post" action="/ui/login""#))
            #expect(form.text.contains(#"name="next" value="/ui/requests""#))
            #expect(
                form.headers[.contentSecurityPolicy]?.hasPrefix(
                    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'") == true)
            #expect(form.headers[HTTPField.Name("X-Frame-Options")!] == "DENY")
            #expect(form.headers[.cacheControl] == "no-store")
            let loginCookie = try #require(Self.cookie(form, DashboardSessions.loginCookieName))
            #expect(loginCookie.contains("HttpOnly") && loginCookie.contains("SameSite=Strict") && loginCookie.contains("Path=/ui"))
            #expect(
                !form.text.contains("<script") && !form.text.contains("http://") && !form.text.contains("https://"), "no script, nothing external")

            let offsite = try await client.execute(uri: "/ui/login?next=//evil.example/x", method: .get)
            #expect(offsite.text.contains(#"name="next" value="/ui""#), "only dashboard paths are followed after login")
        }
    }

    @Test func theMasterKeySignsInWithASessionCookieAndLogoutEndsIt() async throws {
        try await withGateway { client, application in
            let response = try await Self.submitLogin(client, key: Self.masterKey)
            #expect(response.status == .seeOther)
            #expect(response.headers[.location] == "/ui")
            let cookie = try #require(Self.cookie(response, DashboardSessions.cookieName))
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/ui"))
            #expect(!cookie.contains("Secure"), "plain HTTP listener")
            let session = try #require(Self.cookieValue(response, DashboardSessions.cookieName))
            #expect(session.count == 64, "32 random bytes")
            #expect(!cookie.contains(Self.masterKey))

            let overview = try await client.execute(uri: "/ui", method: .get, headers: [.cookie: "\(DashboardSessions.cookieName)=\(session)"])
            #expect(overview.status == .ok)
            #expect(overview.text.contains("<h1>Overview</h1>") && overview.text.contains("Log out"))
            for section in ["Overview", "Models", "Keys &amp; teams", "Requests", "MCP", "Audit", "Config"] {
                #expect(overview.text.contains(">\(section)</a>"), "navigation: \(section)")
            }
            let csrf = try #require(Self.csrfField(overview.text))

            var headers = Self.formHeaders
            headers[.cookie] = "\(DashboardSessions.cookieName)=\(session)"
            let logout = try await client.execute(uri: "/ui/logout", method: .post, headers: headers, body: Self.form([("csrf", csrf)]))
            #expect(logout.status == .seeOther)
            #expect(logout.headers[.location] == "/ui/login")
            #expect(Self.cookie(logout, DashboardSessions.cookieName)?.contains("Max-Age=0") == true)
            let after = try await client.execute(uri: "/ui", method: .get, headers: [.cookie: "\(DashboardSessions.cookieName)=\(session)"])
            #expect(after.status == .seeOther, "the session is gone on the server, whatever the browser keeps")

            #expect(try await Self.auditRecords(application, action: "dashboard.login") == [.init(actor: "master", outcome: "success", reason: nil)])
            #expect(try await Self.auditRecords(application, action: "dashboard.logout") == [.init(actor: "master", outcome: "success", reason: nil)])
        }
    }

    @Test func aWrongKeyIsRefusedAndAudited() async throws {
        try await withGateway { client, application in
            for key in ["wrong-key", "", "sk-sy-0000000000000000000000000000000000000000000000"] {
                let response = try await Self.submitLogin(client, key: key)
                #expect(response.status == .unauthorized, "\(key)")
                #expect(response.text.contains("That key was not accepted."))
                #expect(Self.cookieValue(response, DashboardSessions.cookieName) == nil)
            }
            let denied = try await Self.auditRecords(application, action: "dashboard.login")
            #expect(denied.count == 3)
            #expect(denied.allSatisfy { $0.actor == "unauthenticated" && $0.outcome == "denied" && $0.reason == "invalid_api_key" })
        }
    }

    @Test func postsWithoutTheRightCSRFTokenOrFromAnotherSiteAreRefused() async throws {
        try await withGateway { client, _ in
            // Login: no cookie, a field that differs from the cookie, a token this gateway never signed.
            let form = try await client.execute(uri: "/ui/login", method: .get)
            let token = try #require(Self.cookieValue(form, DashboardSessions.loginCookieName))
            let forged = "9999999999.00112233445566778899aabbccddeeff.0000000000000000000000000000000000000000000000000000000000000000"
            for (cookie, field) in [(nil, token), (token, "x" + token), (forged, forged), (token, nil)] as [(String?, String?)] {
                var headers = Self.formHeaders
                if let cookie { headers[.cookie] = "\(DashboardSessions.loginCookieName)=\(cookie)" }
                var fields = [("key", Self.masterKey)]
                if let field { fields.append(("csrf", field)) }
                let response = try await client.execute(uri: "/ui/login", method: .post, headers: headers, body: Self.form(fields))
                #expect(response.status == .forbidden)
                #expect(Self.cookieValue(response, DashboardSessions.cookieName) == nil)
            }
            // The right token from another site.
            let crossSite = try await Self.submitLogin(client, key: Self.masterKey, extra: [.origin: "https://evil.example"])
            #expect(crossSite.status == .forbidden)

            // Logout: no token, a wrong one, another site; the session survives each.
            let browser = try await Self.login(client)
            let attempts: [([(String, String)], [HTTPField])] = [
                ([], []), ([("csrf", "wrong")], []), ([("csrf", browser.csrf)], [HTTPField(name: .origin, value: "http://evil.example")]),
            ]
            for (fields, extra) in attempts {
                var headers = Self.formHeaders
                headers[.cookie] = "\(DashboardSessions.cookieName)=\(browser.session)"
                for field in extra { headers.append(field) }
                let response = try await client.execute(uri: "/ui/logout", method: .post, headers: headers, body: Self.form(fields))
                #expect(response.status == .forbidden)
                #expect(try await Self.get(client, "/ui", browser).status == .ok)
            }
        }
    }

    @Test func onlyAdminVirtualKeysSignInAndTeamAdminsSeeTheirTeam() async throws {
        try await withGateway { client, application in
            let developer = try #require(
                try await Self.api(client, "/admin/keys", #"{"name":"dev-key","team_id":"research"}"#).json?["key"]?.stringValue)
            let refused = try await Self.submitLogin(client, key: developer)
            #expect(refused.status == .forbidden)
            #expect(refused.text.contains("no admin role"))
            #expect(Self.cookieValue(refused, DashboardSessions.cookieName) == nil)
            let denied = try await Self.auditRecords(application, action: "dashboard.login")
            #expect(denied.count == 1 && denied[0].outcome == "denied" && denied[0].reason == "admin_required" && denied[0].actor.hasPrefix("key_"))

            let lead = try #require(
                try await Self.api(client, "/admin/keys", #"{"name":"research-lead","team_id":"research","roles":["team_admin"]}"#).json?["key"]?
                    .stringValue)
            _ = try await Self.api(client, "/admin/keys", #"{"name":"other-team-key","team_id":"sales"}"#)
            _ = try await Self.chat(client, key: developer)
            let browser = try await Self.login(client, key: lead)
            let keys = try await Self.get(client, "/ui/keys", browser)
            #expect(keys.status == .ok)
            #expect(keys.text.contains("research-lead") && keys.text.contains("dev-key"))
            #expect(!keys.text.contains("other-team-key"), "a team admin sees only its team's keys")
            #expect(keys.text.contains("admin of team research"))
            #expect(try await Self.get(client, "/ui/audit", browser).status == .forbidden)
            #expect(try await Self.get(client, "/ui/config", browser).status == .forbidden)

            // Revoking the key ends the session it opened.
            let leadID = try #require(try await application.stores.keyStore().list().first { $0.name == "research-lead" }?.id)
            #expect(try await Self.api(client, "/admin/keys/\(leadID)/revoke", "").status == .ok)
            #expect(try await Self.get(client, "/ui/keys", browser).status == .seeOther)
        }
    }

    @Test func pagesShowTrafficModelsRequestsAndTheVerifiedAuditTrail() async throws {
        try await withGateway { client, _ in
            var ids: [String] = []
            for _ in 0..<3 {
                let response = try await Self.chat(client)
                #expect(response.status == .ok)
                ids.append(response.headers[HTTPField.Name("x-request-id")!] ?? "")
            }
            let missing = try await Self.chat(client, model: "no-such-model")
            #expect(missing.status == .notFound)
            let missingID = missing.headers[HTTPField.Name("x-request-id")!] ?? ""
            _ = try await Self.api(client, "/admin/keys", #"{"name":"billing-app","budget":{"amount":5,"period":"monthly"}}"#)
            let browser = try await Self.login(client)

            let overview = try await Self.get(client, "/ui", browser)
            #expect(overview.status == .ok)
            #expect(overview.text.contains(#"data-stat="requests"><span>Requests</span><strong>4</strong>"#), "\(overview.text)")
            #expect(overview.text.contains(#"data-stat="errors"><span>Errors</span><strong>1</strong>"#))
            for chart in ["requests", "latency", "tokens", "spend", "models"] {
                #expect(overview.text.contains(#" data-chart="\#(chart)" role="img""#), "chart \(chart)")
            }
            #expect(overview.text.contains(#"<polyline data-series="requests""#) || overview.text.contains(#"<circle"#))
            #expect(overview.text.contains(#"<a href="/ui/requests?model=chat">chat</a>"#))

            let models = try await Self.get(client, "/ui/models", browser)
            #expect(models.text.contains("<strong>chat</strong>") && models.text.contains("<strong>other</strong>"))
            #expect(models.text.contains(#"data-deployment="p/m""#) && models.text.contains("closed"))
            #expect(models.text.contains(#"<span class="badge ok">ok</span>"#), "the provider answered")

            let requests = try await Self.get(client, "/ui/requests", browser)
            for id in ids + [missingID] { #expect(requests.text.contains(id)) }
            let errors = try await Self.get(client, "/ui/requests?errors=true&model=&key=", browser)
            #expect(errors.text.contains(missingID) && !errors.text.contains(ids[0]), "errors only; empty fields are no filter")
            let paged = try await Self.get(client, "/ui/requests?limit=2", browser)
            #expect(paged.text.contains("Older →"))

            let detail = try await Self.get(client, "/ui/requests/\(ids[0])", browser)
            #expect(detail.status == .ok)
            #expect(detail.text.contains(#"data-request="\#(ids[0])""#))
            #expect(detail.text.contains(#"data-table="attempts""#) && detail.text.contains("p/m"))
            #expect(detail.text.contains("Bodies are not logged"))
            #expect(try await Self.get(client, "/ui/requests/req_missing", browser).status == .notFound)

            let keys = try await Self.get(client, "/ui/keys", browser)
            #expect(keys.text.contains("billing-app") && keys.text.contains(#"data-table="budgets""#))

            let audit = try await Self.get(client, "/ui/audit", browser)
            #expect(audit.text.contains(#"data-verification="intact""#))
            #expect(audit.text.contains("dashboard.login") && audit.text.contains("key.create"))
            let filtered = try await Self.get(client, "/ui/audit?kind=admin", browser)
            #expect(filtered.text.contains("key.create") && !filtered.text.contains("dashboard.login"))
        }
    }

    @Test func theConfigurationPageNeverShowsASecret() async throws {
        let extra = """
            logging:
              webhook:
                url: https://siem.example/ingest
                headers: {Authorization: Bearer webhook-secret-token-42}
            auth:
              jwt:
                - issuer: https://issuer.example
                  audience: switchyard
                  secret: jwt-shared-secret-0123456789abcdef0123456789
                  algorithms: [HS256]
            """
        let server = ", key_secret: key-secret-value-0123456789"
        try await withGateway(extra, server: server) { client, _ in
            let browser = try await Self.login(client)
            let page = try await Self.get(client, "/ui/config", browser)
            #expect(page.status == .ok)
            #expect(page.text.contains("<pre data-config>"))
            #expect(page.text.contains("name: chat") && page.text.contains("url: https://siem.example/ingest"))
            #expect(page.text.contains("redacted"))
            for secret in [Self.providerKey, Self.masterKey, "webhook-secret-token-42", "jwt-shared-secret", "key-secret-value"] {
                #expect(!page.text.contains(secret), "\(secret) leaked")
            }
        }
    }

    @Test func htmlInNamesIsEscaped() async throws {
        try await withGateway { client, _ in
            _ = try await Self.api(client, "/admin/keys", #"{"name":"<script>alert('key')</script>","team_id":"<b>team</b>"}"#)
            _ = try await Self.api(client, "/admin/teams", #"{"id":"t1","name":"<img src=x onerror=alert(1)>"}"#)
            _ = try await Self.chat(client, model: "<svg onload=alert(2)>")
            let browser = try await Self.login(client)
            for path in ["/ui", "/ui/keys", "/ui/requests", "/ui/audit"] {
                let page = try await Self.get(client, path, browser)
                #expect(page.status == .ok, "\(path)")
                #expect(!page.text.contains("<script>alert") && !page.text.contains("<img src=x") && !page.text.contains("<svg onload"), "\(path)")
                #expect(!page.text.contains("<b>team</b>"), "\(path)")
            }
            let keys = try await Self.get(client, "/ui/keys", browser)
            #expect(
                keys.text.contains("&lt;script&gt;alert(&#39;key&#39;)&lt;/script&gt;") && keys.text.contains("&lt;img src=x onerror=alert(1)&gt;"))
            let requests = try await Self.get(client, "/ui/requests", browser)
            #expect(requests.text.contains("&lt;svg onload=alert(2)&gt;"))
        }
    }

    @Test func pagesSaySoWhenTheUsageLedgerIsOff() async throws {
        try await withGateway(server: ", usage_ledger: false") { client, _ in
            _ = try await Self.chat(client)
            let browser = try await Self.login(client)
            for path in ["/ui", "/ui/requests", "/ui/requests/req_1", "/ui/keys", "/ui/models"] {
                let page = try await Self.get(client, path, browser)
                #expect(page.status == .ok, "\(path)")
                #expect(page.text.contains("server.usage_ledger is off"), "\(path)")
            }
        }
    }

    @Test func sessionsEndWhenTheMasterKeyTheyWereOpenedWithChanges() async throws {
        let open = "server: {port: 0, reload_check_interval: off}\nproviders: [{name: p, type: mock}]\nmodels: [{name: chat, provider: p}]\n"
        let (application, path) = try makeGateway(open)
        try await application.makeApplication().test(.live) { client in
            // Without a master key the API is open on loopback, and so is the dashboard.
            let anonymous = try await Self.login(client, key: "")
            #expect(try await Self.get(client, "/ui/config", anonymous).status == .ok)
            let unknown = try await Self.get(client, "/ui/no-such-page", anonymous)
            #expect(unknown.status == .notFound && unknown.text.contains("no page /ui/no-such-page"))

            try open.replacingOccurrences(of: "reload_check_interval: off", with: "reload_check_interval: off, master_key: first-master-key-0123")
                .write(toFile: path, atomically: true, encoding: .utf8)
            #expect(application.reload(reason: "test"))
            #expect(try await Self.get(client, "/ui", anonymous).status == .seeOther, "a master key now guards the dashboard")
            #expect(try await Self.submitLogin(client, key: "").status == .unauthorized)
            let master = try await Self.login(client, key: "first-master-key-0123")

            try open.replacingOccurrences(of: "reload_check_interval: off", with: "reload_check_interval: off, master_key: second-master-key-0123")
                .write(toFile: path, atomically: true, encoding: .utf8)
            #expect(application.reload(reason: "test"))
            #expect(try await Self.get(client, "/ui", master).status == .seeOther, "the old master key's sessions end with it")
        }
    }

    // MARK: Pieces

    @Test func sessionsEndWhenIdleOrTooOldAndTheTableStaysBounded() {
        let clock = ManualInstant()
        let sessions = DashboardSessions(idleLimit: .seconds(60), absoluteLimit: .seconds(300), capacity: 3, now: { clock.now })
        let (id, session) = sessions.open(identity: .master, scope: .all, credential: .anonymous)
        #expect(session.csrfToken.count == 64 && session.csrfToken != id)
        clock.advance(.seconds(50))
        #expect(sessions.session(id) != nil, "still active")
        clock.advance(.seconds(50))
        #expect(sessions.session(id) != nil, "each request restarts the idle clock")
        for _ in 0..<5 {
            clock.advance(.seconds(50))
            _ = sessions.session(id)
        }
        #expect(sessions.session(id) == nil, "past the absolute limit")
        let (idle, _) = sessions.open(identity: .master, scope: .all, credential: .anonymous)
        clock.advance(.seconds(61))
        #expect(sessions.session(idle) == nil, "past the idle limit")
        for _ in 0..<10 { _ = sessions.open(identity: .master, scope: .all, credential: .anonymous) }
        #expect(sessions.count <= 3)
        #expect(sessions.session(nil) == nil && sessions.session("short") == nil)
    }

    @Test func chartsAndEscapingPieces() {
        #expect(HTML.escape(#"<a href="x">'&'</a>"#) == "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;")
        let name = "<b>"
        let fragment: HTML = "<td>\(name)</td>\(HTML(trusted: "<br>"))"
        #expect(fragment.text == "<td>&lt;b&gt;</td><br>")
        #expect(HTML.link("/ui/requests", [("model", "a b&c"), ("key", nil), ("team", "")]) == "/ui/requests?model=a%20b%26c")
        #expect(
            SVGChart.niceCeiling(0) == 1 && SVGChart.niceCeiling(7) == 10 && SVGChart.niceCeiling(130) == 200 && SVGChart.niceCeiling(0.03) == 0.05)
        let chart = SVGChart.line(
            id: "t", title: "T", labels: ["a", "b", "c"], series: [ChartSeries(name: "<s>", values: [1, nil, 3], color: "#000")],
            format: Format.compact)
        #expect(chart.text.contains("<circle") && !chart.text.contains("<polyline"), "a gap leaves single points")
        #expect(chart.text.contains("&lt;s&gt;") && !chart.text.contains("<s>"))
        #expect(Format.usd(0.0042) == "$0.004200" && Format.usd(12.5) == "$12.50" && Format.count(1_234_567) == "1,234,567")
        #expect(RedactedConfiguration.redactURLPassword("postgres://app:hunter2@db:5432/x") == "postgres://app:<redacted>@db:5432/x")
        #expect(RedactedConfiguration.snakeCase("awsAccessKeyID") == "aws_access_key_id" && RedactedConfiguration.snakeCase("baseURL") == "base_url")
        var config = GatewayConfig(source: "test")
        config.server.databaseURL = Secret("postgres://app:hunter2@db/x", source: "env:DATABASE_URL")
        config.redis = RedisSettings(url: Secret("redis://:redis-pass@cache:6379", source: "inline"))
        let text = RedactedConfiguration.text(config, scrubber: SecretScrubber(secrets: []))
        #expect(text.contains("database_url: <redacted env:DATABASE_URL>") && !text.contains("hunter2") && !text.contains("redis-pass"))
        // Optional numbers are written as numbers, and a number is no secret whatever its name.
        var values = LimitValues()
        values.requestsPerMinute = 100_000
        values.tokensPerMinute = 500_000
        config.limits.rules = [LimitRule(scope: .key, values: values)]
        let limits = RedactedConfiguration.text(config, scrubber: SecretScrubber(secrets: []))
        #expect(limits.contains("requests_per_minute: 100000") && limits.contains("tokens_per_minute: 500000"), "\(limits)")
        #expect(!limits.contains("Optional("), "\(limits)")
    }
}

/// A clock the test moves by hand.
final class ManualInstant: Sendable {
    private let current = Mutex(ContinuousClock.now)
    var now: ContinuousClock.Instant { current.withLock { $0 } }
    func advance(_ duration: Duration) { current.withLock { $0 += duration } }
}
