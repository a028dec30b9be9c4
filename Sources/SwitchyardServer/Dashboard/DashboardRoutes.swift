import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SwitchyardCore
import SwitchyardStores

/// One rendered dashboard page, before the shared layout goes around it.
struct DashboardPage: Sendable {
    var title: String
    var section: DashboardSection?
    var content: HTML
    var status: HTTPResponse.Status = .ok
}

/// The web dashboard at `/ui`: server-rendered HTML with inline SVG charts, no script and no
/// external resource.
///
/// Administrators sign in with the master key or a virtual key with an admin role (`admin`,
/// or `org_admin`/`team_admin`, who see only their organisation or team, as in the admin API);
/// the browser then holds only a random session id in an HttpOnly, SameSite=Strict cookie.
/// Every POST carries a CSRF token (the session's, or for the login form a signed
/// double-submit token) and is refused when its `Origin` is another site. Logins, failed ones
/// included, and logouts go to the audit trail.
struct DashboardRoutes {
    let runtime: RuntimeHolder
    let stores: StoreService
    let audit: AuditLog
    let ledger: UsageLedger?
    let gateway: Gateway
    let health: ProviderHealth
    let usage: UsageRoutes
    let logs: RequestLogRoutes
    let sessions: DashboardSessions
    let mcp: MCPHub
    let mcpHealth: MCPServerHealth
    /// At most this many failed logins per second reach the audit trail (as for API keys).
    let failureAudit = RateCap(perSecond: 50)

    func register(on router: Router<GatewayRequestContext>) {
        let ui = router.group().add(middleware: DashboardHeadersMiddleware())
        ui.get("/ui/login") { request, _ in await loginForm(request) }
        ui.post("/ui/login") { request, context in try await login(request, context) }
        ui.post("/ui/logout") { request, context in try await logout(request, context) }
        ui.get("/ui") { request, context in await page(request, context) { try await overview($0, $1) } }
        ui.get("/ui/models") { request, context in await page(request, context) { try await models($0, $1) } }
        ui.get("/ui/keys") { request, context in await page(request, context) { try await keys($0, $1) } }
        ui.get("/ui/requests") { request, context in await page(request, context) { try await requests($0, $1) } }
        ui.get("/ui/requests/:id") { request, context in
            let id = context.parameters.get("id") ?? ""
            return await page(request, context) { session, _ in try await requestDetail(session, id: id) }
        }
        ui.get("/ui/mcp") { request, context in await page(request, context) { try await mcpPage($0, $1) } }
        ui.get("/ui/audit") { request, context in await page(request, context) { try await auditTrail($0, $1) } }
        ui.get("/ui/config") { request, context in await page(request, context) { session, _ in configuration(session) } }
        ui.get("/ui/**") { request, context in
            await page(request, context) { _, request in
                DashboardPage(
                    title: "Not found", section: nil, content: DashboardLayout.notice("The dashboard has no page \(request.uri.path).", tone: "bad"),
                    status: .notFound)
            }
        }
    }

    var tls: Bool { runtime.snapshot.config.server.tls != nil }

    // MARK: Pages behind the session

    /// Renders a page for a signed-in administrator; anyone else is sent to the login form.
    func page(
        _ request: Request, _ context: GatewayRequestContext,
        _ render: @Sendable (DashboardSession, Request) async throws -> DashboardPage
    ) async -> Response {
        guard let (_, session) = await currentSession(request) else {
            var target = request.uri.path
            if let query = request.uri.query, !query.isEmpty { target += "?" + query }
            return Self.redirect(HTML.link("/ui/login", [("next", target)]))
        }
        var rendered: DashboardPage
        do {
            rendered = try await render(session, request)
        } catch {
            rendered = Self.errorPage(error)
        }
        return Self.html(
            DashboardLayout.page(title: rendered.title, section: rendered.section, session: session, content: rendered.content),
            status: rendered.status)
    }

    /// The session the request's cookie names, if it is alive and its credential still holds.
    func currentSession(_ request: Request) async -> (id: String, session: DashboardSession)? {
        guard let id = request.cookies[DashboardSessions.cookieName]?.value, let session = sessions.session(id) else { return nil }
        guard await credentialHolds(session.credential) else {
            sessions.close(id)
            return nil
        }
        return (id, session)
    }

    /// Whether what opened a session is still valid: the same master key; the virtual key not
    /// revoked, expired or rotated; authentication still off for an anonymous session.
    func credentialHolds(_ credential: DashboardSession.Credential) async -> Bool {
        switch credential {
        case .master(let digest):
            guard let key = runtime.snapshot.config.server.masterKey else { return false }
            return MasterKeyAuthenticator.constantTimeEquals(Array(SHA256.hash(data: Array(key.reveal().utf8))), digest)
        case .anonymous:
            guard !runtime.snapshot.authenticator.isEnabled else { return false }
            return await stores.anonymousIdentity(jwtConfigured: !runtime.snapshot.config.auth.jwt.isEmpty).roles.contains("admin")
        case .virtualKey(let id, let keyHash):
            guard let key = try? await stores.keyStore().find(id: id), key.revokedAt == nil else { return false }
            if let expiry = key.expiresAt, expiry <= WallClock.unixTime() { return false }
            return DashboardSessions.constantTimeEquals(key.keyHash, keyHash)
        }
    }

    // MARK: Login and logout

    func loginForm(_ request: Request, message: HTML? = nil, status: HTTPResponse.Status = .ok, next: String? = nil) async -> Response {
        if message == nil, await currentSession(request) != nil { return Self.redirect("/ui") }
        // A form opened in another tab keeps working: a still-valid token is reused.
        let current = request.cookies[DashboardSessions.loginCookieName]?.value
        let token = current.flatMap { sessions.checkLoginToken(cookie: $0, field: $0) ? $0 : nil } ?? sessions.loginToken()
        let target = Self.safeNext(next ?? request.uri.queryParameters.get("next")) ?? "/ui"
        let authenticationOff = !runtime.snapshot.authenticator.isEnabled
        let hint: HTML =
            authenticationOff
            ? DashboardLayout.notice(
                "No master key is configured (server.master_key), so the API and this dashboard are open on this listener: leave the key empty to sign in.",
                tone: "warn")
            : "<p class=\"muted\">Sign in with the master key or a virtual key with an admin role (admin, org_admin, team_admin).</p>"
        let content: HTML = """
            <form class="login" method="post" action="/ui/login" autocomplete="off">
            \(message ?? .empty)\(hint)
            <label for="key">Key</label>
            <input type="password" id="key" name="key" autocomplete="off" autofocus>
            <input type="hidden" name="csrf" value="\(token)">
            <input type="hidden" name="next" value="\(target)">
            <button class="primary" type="submit">Sign in</button>
            </form>
            """
        var response = Self.html(DashboardLayout.page(title: "Sign in", section: nil, session: nil, content: content), status: status)
        response.setCookie(cookie(DashboardSessions.loginCookieName, token))
        return response
    }

    func login(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let form = try await Self.form(request)
        guard Self.isSameOrigin(request) else { return Self.forbidden("The form was sent from another site.") }
        guard sessions.checkLoginToken(cookie: request.cookies[DashboardSessions.loginCookieName]?.value, field: form.csrf) else {
            return Self.forbidden("The sign-in form has expired or did not come from this gateway. Open it again.")
        }
        let next = Self.safeNext(form.next) ?? "/ui"
        // Guessing keys through the form: an address with too many failures this minute waits.
        let address = context.channel.remoteAddress?.ipAddress ?? "unknown"
        if let wait = sessions.signInWait(address) {
            refused(context, actor: "unauthenticated", reason: "too_many_attempts")
            var response = await loginForm(
                request, message: DashboardLayout.notice("Too many failed sign-ins; try again in \(wait) seconds.", tone: "bad"),
                status: .tooManyRequests, next: next)
            response.headers[.retryAfter] = String(wait)
            return response
        }
        let presented = (form.key ?? "").trimmingCharacters(in: .whitespaces)
        let snapshot = runtime.snapshot
        let result: Result<Identity, GatewayError>
        if presented.hasPrefix(VirtualKeyFormat.prefix) {
            result = await stores.authenticate(presented)
        } else {
            result = snapshot.authenticator.authenticate(authorization: nil, apiKey: presented)
        }
        var identity: Identity
        switch result {
        case .success(let found):
            identity = found
            if found.kind == .anonymous { identity = await stores.anonymousIdentity(jwtConfigured: !snapshot.config.auth.jwt.isEmpty) }
        case .failure(let error):
            sessions.recordFailedSignIn(address)
            refused(context, actor: "unauthenticated", reason: error.metricLabel)
            return await loginForm(
                request, message: DashboardLayout.notice("That key was not accepted.", tone: "bad"), status: .unauthorized, next: next)
        }
        if identity.kind == .virtualKey { await stores.directory().apply(to: &identity) }
        let scope: AdminScope
        do {
            scope = try AdminRoutes.adminScope(of: identity)
        } catch {
            sessions.recordFailedSignIn(address)
            refused(context, actor: identity.subject, reason: "admin_required")
            return await loginForm(
                request,
                message: DashboardLayout.notice(
                    "This key has no admin role (admin, org_admin or team_admin); the dashboard is for administrators.", tone: "bad"),
                status: .forbidden, next: next)
        }
        let credential: DashboardSession.Credential
        switch identity.kind {
        case .master:
            credential = .master(digest: Array(SHA256.hash(data: Array(presented.utf8))))
        case .virtualKey:
            guard let key = try await stores.keyStore().find(id: identity.subject) else {
                return await loginForm(request, message: DashboardLayout.notice("That key was not accepted.", tone: "bad"), status: .unauthorized)
            }
            credential = .virtualKey(id: key.id, keyHash: key.keyHash)
        default:
            credential = .anonymous
        }
        let (id, _) = sessions.open(identity: identity, scope: scope, credential: credential)
        audit.record(
            AuditEvent(
                kind: .authentication, action: "dashboard.login", actor: identity.subject, outcome: "success", requestID: context.requestID,
                details: ["path": "/ui/login", "scope": Self.describe(scope)]))
        var response = Self.redirect(next)
        response.setCookie(cookie(DashboardSessions.cookieName, id))
        response.setCookie(cookie(DashboardSessions.loginCookieName, "", maxAge: 0))
        return response
    }

    func refused(_ context: GatewayRequestContext, actor: String, reason: String) {
        guard failureAudit.allow() else { return }
        audit.record(
            AuditEvent(
                kind: .authentication, action: "dashboard.login", actor: actor, outcome: "denied", reason: reason, requestID: context.requestID,
                details: ["path": "/ui/login"]))
    }

    func logout(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let form = try await Self.form(request)
        guard Self.isSameOrigin(request) else { return Self.forbidden("The form was sent from another site.") }
        guard let (id, session) = await currentSession(request) else { return Self.redirect("/ui/login") }
        guard let token = form.csrf, DashboardSessions.constantTimeEquals(token, session.csrfToken) else {
            return Self.forbidden("The form's CSRF token is missing or wrong. Reload the page and try again.")
        }
        sessions.close(id)
        audit.record(
            AuditEvent(
                kind: .authentication, action: "dashboard.logout", actor: session.identity.subject, outcome: "success",
                requestID: context.requestID, details: ["path": "/ui/logout"]))
        var response = Self.redirect("/ui/login")
        response.setCookie(cookie(DashboardSessions.cookieName, "", maxAge: 0))
        return response
    }

    /// HttpOnly, SameSite=Strict, limited to `/ui`, Secure when the listener speaks TLS. The
    /// session cookie has no Max-Age: it ends with the browser session (and on the server
    /// after the idle or absolute limit).
    func cookie(_ name: String, _ value: String, maxAge: Int? = nil) -> Cookie {
        Cookie(name: name, value: value, maxAge: maxAge, path: "/ui", secure: tls, httpOnly: true, sameSite: .strict)
    }

    // MARK: Helpers

    /// The fields the dashboard's forms send.
    struct Form: Decodable {
        var key: String?
        var csrf: String?
        var next: String?
    }

    /// The fields of a URL-encoded form body (at most 16 KiB); none when it is not one.
    static func form(_ request: Request) async throws -> Form {
        var request = request
        let body = try await request.collectBody(upTo: 16 * 1024)
        return (try? URLEncodedFormDecoder().decode(Form.self, from: String(buffer: body))) ?? Form()
    }

    /// False when the browser says the request came from another site: an `Origin` whose host
    /// differs from the `Host` the request was sent to, or `Sec-Fetch-Site` other than
    /// same-origin. (The scheme is not compared, so a TLS-terminating proxy in front works.)
    static func isSameOrigin(_ request: Request) -> Bool {
        if let site = request.headers.value(HTTPField.Name("Sec-Fetch-Site")!), site != "same-origin" { return false }
        guard let origin = request.headers.value(.origin) else { return true }
        guard let host = request.head.authority, let separator = origin.range(of: "://") else { return false }
        return origin[separator.upperBound...].lowercased() == host.lowercased()
    }

    /// A dashboard path to return to after login; anything else (another site, `//host`) is dropped.
    static func safeNext(_ value: String?) -> String? {
        guard let value, value == "/ui" || value.hasPrefix("/ui/") || value.hasPrefix("/ui?"), !value.contains("//"), !value.contains("\\"),
            value.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F })
        else { return nil }
        return value
    }

    static func describe(_ scope: AdminScope) -> String {
        switch scope {
        case .all: "all"
        case .organization(let org): "org:" + org
        case .team(let team, _): "team:" + team
        }
    }

    static func html(_ page: HTML, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "text/html; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: page.text)))
    }

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location])
    }

    static func forbidden(_ message: String) -> Response {
        html(
            DashboardLayout.page(
                title: "Forbidden", section: nil, session: nil,
                content: "\(DashboardLayout.notice(message, tone: "bad"))<p><a href=\"/ui/login\">Sign in</a></p>"), status: .forbidden)
    }

    /// A page saying what went wrong (in the layout, with the error's status).
    static func errorPage(_ error: any Error) -> DashboardPage {
        let gatewayError = error as? GatewayError ?? .internalError()
        let status = HTTPResponse.Status(code: gatewayError.status)
        return DashboardPage(
            title: status.code == 404 ? "Not found" : "Something went wrong", section: nil,
            content: DashboardLayout.notice(gatewayError.message, tone: "bad"), status: status)
    }

    /// Shown in place of usage figures when `server.usage_ledger` is off.
    static let ledgerOff = DashboardLayout.notice(
        "Usage is not recorded: server.usage_ledger is off, so there are no requests, latencies, tokens or spend to show.", tone: "warn")
}

/// Headers on every dashboard response: nothing cached, no framing, a policy that allows no
/// script and no resource from anywhere (inline styles, same-origin and data: images only).
/// Errors thrown before a page renders become an HTML page too.
struct DashboardHeadersMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    static let contentSecurityPolicy =
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    @concurrent func handle(_ request: Request, context: Context, next: @concurrent (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            let page = DashboardRoutes.errorPage(RequestMiddleware.gatewayError(for: error, request: request, limit: 16 * 1024))
            response = DashboardRoutes.html(
                DashboardLayout.page(title: page.title, section: nil, session: nil, content: page.content), status: page.status)
        }
        response.headers[.cacheControl] = "no-store"
        response.headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        response.headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "same-origin"
        response.headers[.contentSecurityPolicy] = Self.contentSecurityPolicy
        return response
    }
}
