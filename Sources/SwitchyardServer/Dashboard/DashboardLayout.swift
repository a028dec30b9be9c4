import SwitchyardCore

/// The dashboard's sections, in navigation order.
enum DashboardSection: String, CaseIterable, Sendable {
    case overview, models, keys, requests, mcp, audit, config

    var title: String {
        switch self {
        case .overview: "Overview"
        case .models: "Models"
        case .keys: "Keys & teams"
        case .requests: "Requests"
        case .mcp: "MCP"
        case .audit: "Audit"
        case .config: "Config"
        }
    }

    var path: String { self == .overview ? "/ui" : "/ui/" + rawValue }
}

/// The shared page frame: one inline style sheet, the navigation, the logout form. No script,
/// no external resource (fonts are the system's).
enum DashboardLayout {
    static func page(title: String, section: DashboardSection?, session: DashboardSession?, content: HTML) -> HTML {
        let navigation: HTML
        if let session {
            let links = DashboardSection.allCases.map { item -> HTML in
                item == section
                    ? "<a href=\"\(item.path)\" aria-current=\"page\">\(item.title)</a>"
                    : "<a href=\"\(item.path)\">\(item.title)</a>"
            }
            navigation = """
                <nav>\(links)</nav>
                <div class="who"><span title="signed in as">\(who(session))</span>
                <form method="post" action="/ui/logout"><input type="hidden" name="csrf" value="\(session.csrfToken)"><button type="submit">Log out</button></form></div>
                """
        } else {
            navigation = .empty
        }
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="referrer" content="same-origin"><link rel="icon" href="data:,">
            <title>\(title) · Switchyard</title><style>\(HTML(trusted: styleSheet))</style></head>
            <body><header><a class="brand" href="/ui">Switchyard</a>\(navigation)</header>
            <main><h1>\(title)</h1>
            \(content)
            </main></body></html>
            """
    }

    /// `master`, `key_ab12 (team_admin of team research)`.
    static func who(_ session: DashboardSession) -> String {
        switch session.scope {
        case .all: session.identity.subject
        case .organization(let org): "\(session.identity.subject) (admin of organisation \(org))"
        case .team(let team, _): "\(session.identity.subject) (admin of team \(team))"
        }
    }

    /// A small statistic with its label.
    static func stat(_ label: String, _ value: String, note: String? = nil, id: String) -> HTML {
        let extra: HTML = note.map { "<small>\($0)</small>" } ?? .empty
        return "<div class=\"stat\" data-stat=\"\(id)\"><span>\(label)</span><strong>\(value)</strong>\(extra)</div>"
    }

    /// A coloured word: `ok`, `warn`, `bad` or `muted`.
    static func badge(_ text: String, _ tone: String) -> HTML {
        "<span class=\"badge \(tone)\">\(text)</span>"
    }

    static func notice(_ text: String, tone: String = "info") -> HTML {
        "<p class=\"notice \(tone)\">\(text)</p>"
    }

    /// A table with a header row; `rows` are already cells (`<td>…</td>`).
    static func table(id: String, headers: [String], rows: [HTML], empty: String) -> HTML {
        guard !rows.isEmpty else { return "<p class=\"empty\" data-table=\"\(id)\">\(empty)</p>" }
        let head = headers.map { header -> HTML in "<th>\(header)</th>" }
        let body = rows.map { row -> HTML in "<tr>\(row)</tr>" }
        return "<div class=\"scroll\"><table data-table=\"\(id)\"><thead><tr>\(head)</tr></thead><tbody>\(body)</tbody></table></div>"
    }

    /// A usage bar: how much of a budget is spent.
    static func meter(_ ratio: Double) -> HTML {
        let clamped = min(max(ratio.isFinite ? ratio : 0, 0), 1)
        let tone = ratio >= 1 ? "bad" : ratio >= 0.8 ? "warn" : "ok"
        let width = Format.decimal(clamped * 100, places: 1)
        return """
            <span class="meter" title="\(Format.percent(ratio))"><svg viewBox="0 0 100 8" preserveAspectRatio="none" xmlns="http://www.w3.org/2000/svg"><rect width="100" height="8" class="track"/><rect width="\(width)" height="8" class="fill \(tone)"/></svg></span> \(Format.percent(ratio))
            """
    }

    static let styleSheet = """
        :root{--fg:#1f2933;--muted:#616e7c;--line:#d9e2ec;--bg:#f5f7fa;--card:#fff;--accent:#2563eb;--ok:#15803d;--warn:#b45309;--bad:#b91c1c}
        *{box-sizing:border-box}
        body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:var(--bg)}
        header{display:flex;flex-wrap:wrap;align-items:center;gap:16px;padding:10px 24px;background:#102a43;color:#fff}
        header a{color:#d9e2ec;text-decoration:none}
        .brand{font-weight:700;color:#fff;font-size:16px;margin-right:8px}
        nav{display:flex;flex-wrap:wrap;gap:4px;flex:1}
        nav a{padding:4px 10px;border-radius:4px}
        nav a[aria-current=page],nav a:hover{background:#243b53;color:#fff}
        .who{display:flex;align-items:center;gap:10px;color:#bcccdc;font-size:13px}
        .who form{margin:0}
        button,.button{font:inherit;padding:5px 12px;border:1px solid var(--line);border-radius:4px;background:#fff;color:var(--fg);cursor:pointer;text-decoration:none}
        button.primary{background:var(--accent);border-color:var(--accent);color:#fff}
        main{padding:16px 24px 48px;max-width:1400px}
        h1{font-size:22px;margin:4px 0 16px}
        h2{font-size:17px;margin:28px 0 10px}
        a{color:var(--accent)}
        .stats{display:grid;grid-template-columns:repeat(auto-fill,minmax(160px,1fr));gap:12px}
        .stat{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:10px 14px}
        .stat span{display:block;color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
        .stat strong{display:block;font-size:22px;margin-top:2px}
        .stat small{color:var(--muted)}
        .charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(460px,1fr));gap:16px;margin-top:16px}
        figure.chart{margin:0;background:var(--card);border:1px solid var(--line);border-radius:6px;padding:10px}
        svg.chart{width:100%;height:auto;display:block}
        svg.breakdown{max-width:720px}
        figcaption{font-weight:600;margin-top:6px}
        .key{font-weight:400;color:var(--muted);margin-left:10px;font-size:12px}
        .key i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
        .axis{font-size:11px;fill:#616e7c}
        .gridline{stroke:#e4e7eb;stroke-width:1}
        .scroll{overflow-x:auto}
        table{border-collapse:collapse;width:100%;background:var(--card);border:1px solid var(--line)}
        th,td{text-align:left;padding:6px 10px;border-bottom:1px solid var(--line);vertical-align:top}
        td{white-space:nowrap}td.wrap{white-space:normal;min-width:220px;word-break:break-word}
        th{background:#f0f4f8;font-size:12px;text-transform:uppercase;letter-spacing:.03em;color:var(--muted)}
        td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
        tbody tr:hover{background:#f8fafc}
        code,pre{font:12px/1.5 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
        pre{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:12px;overflow:auto;max-height:640px;white-space:pre-wrap;word-break:break-word}
        .badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;background:#e4e7eb;color:#3e4c59}
        .badge.ok{background:#dcfce7;color:var(--ok)}.badge.warn{background:#fef3c7;color:var(--warn)}.badge.bad{background:#fee2e2;color:var(--bad)}
        .notice{padding:10px 14px;border-radius:6px;border:1px solid var(--line);background:#eff6ff}
        .notice.bad{background:#fee2e2;border-color:#fecaca}.notice.ok{background:#dcfce7;border-color:#bbf7d0}.notice.warn{background:#fef3c7;border-color:#fde68a}
        .empty{color:var(--muted)}
        form.filters{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-end;margin-bottom:14px}
        form.filters label{display:flex;flex-direction:column;font-size:12px;color:var(--muted)}
        input,select{font:inherit;padding:4px 8px;border:1px solid var(--line);border-radius:4px;background:#fff}
        dl.fields{display:grid;grid-template-columns:max-content 1fr max-content 1fr;gap:4px 18px;background:var(--card);border:1px solid var(--line);border-radius:6px;padding:12px 16px}
        dl.fields dt{color:var(--muted)}dl.fields dd{margin:0;word-break:break-all}
        .meter svg{width:90px;height:8px;vertical-align:middle}
        .meter .track{fill:#e4e7eb}.meter .fill.ok{fill:#16a34a}.meter .fill.warn{fill:#d97706}.meter .fill.bad{fill:#dc2626}
        .pager{margin-top:12px;display:flex;gap:12px}
        .login{max-width:420px;margin:48px auto;background:var(--card);border:1px solid var(--line);border-radius:8px;padding:24px}
        .login label{display:block;margin-bottom:6px;font-weight:600}
        .login input[type=password]{width:100%;margin-bottom:14px}
        .muted{color:var(--muted)}
        """
}
