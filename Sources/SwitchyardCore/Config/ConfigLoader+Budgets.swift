/// Decoding of `budgets:` and `pricing:`.
extension Context {
    mutating func decodeBudgetLimit(_ mapping: inout MappingReader, path: String, location: ConfigLocation?) -> BudgetLimit? {
        let amount = mapping.take("amount").flatMap { number($0, path: "\(path).amount") }
        var period = BudgetPeriod.monthly
        if let node = mapping.take("period"), let text = string(node, path: "\(path).period") {
            if let value = BudgetPeriod(rawValue: text) {
                period = value
            } else {
                let names = BudgetPeriod.allCases.map(\.rawValue)
                error(
                    "unknown budget period '\(text)'", at: node.location,
                    hint: Suggestions.closest(to: text, in: names).map { "did you mean '\($0)'?" } ?? "use one of: \(names.joined(separator: ", "))")
            }
        }
        guard let amount else {
            error("\(path) needs an 'amount' (USD)", at: location, hint: "amount: 100, period: monthly")
            return nil
        }
        if amount < 0 || !amount.isFinite { error("\(path).amount must be a non-negative number of USD", at: location) }
        return BudgetLimit(amount: max(0, amount), period: period)
    }

    mutating func decodeThresholds(_ node: ConfigNode, path: String) -> [Double] {
        sequence(node, path: path).compactMap { item in
            guard let value = number(item.node, path: item.path) else { return nil }
            guard value > 0, value <= 10 else {
                error("\(item.path) must be a fraction of the budget above 0 (0.8 is 80%)", at: item.node.location)
                return nil
            }
            return value
        }
    }

    mutating func decodeBudgets(_ node: ConfigNode) -> BudgetSettings {
        var settings = BudgetSettings()
        guard var mapping = MappingReader(node, path: "budgets", context: &self) else { return settings }
        if let node = mapping.take("alerts") { settings.alerts = decodeThresholds(node, path: "budgets.alerts") }
        if let node = mapping.take("webhook"), let url = string(node, path: "budgets.webhook") {
            if url.hasPrefix("http://") || url.hasPrefix("https://") {
                settings.webhookURL = url
            } else {
                error("budgets.webhook must be an http(s) URL", at: node.location)
            }
        }
        if let node = mapping.take("on_backend_failure"), let value = string(node, path: "budgets.on_backend_failure") {
            switch value {
            case "open", "allow": settings.failOpen = true
            case "closed", "deny": settings.failOpen = false
            default: error("budgets.on_backend_failure must be open or closed", at: node.location)
            }
        }
        if let node = mapping.take("rules") {
            for item in sequence(node, path: "budgets.rules") {
                guard var rule = MappingReader(item.node, path: item.path, context: &self) else { continue }
                var scope = BudgetScope.key
                if let node = rule.take("scope"), let text = string(node, path: "\(item.path).scope") {
                    if let value = BudgetScope(rawValue: text) {
                        scope = value
                    } else {
                        let names = BudgetScope.allCases.map(\.rawValue)
                        error(
                            "unknown budget scope '\(text)'", at: node.location,
                            hint: Suggestions.closest(to: text, in: names).map { "did you mean '\($0)'?" }
                                ?? "use one of: \(names.joined(separator: ", "))")
                    }
                }
                let id = rule.take("id").flatMap { string($0, path: "\(item.path).id") }
                let alerts = rule.take("alerts").map { decodeThresholds($0, path: "\(item.path).alerts") }
                let limit = decodeBudgetLimit(&rule, path: item.path, location: item.node.location)
                rule.finish(known: ["scope", "id", "amount", "period", "alerts"], context: &self)
                if let limit { settings.rules.append(BudgetRule(scope: scope, id: id, limit: limit, alerts: alerts)) }
            }
        }
        mapping.finish(known: ["alerts", "webhook", "on_backend_failure", "rules"], context: &self)
        return settings
    }

    mutating func decodePricing(_ node: ConfigNode) -> [String: ModelPrice] {
        guard case .mapping(let entries, _) = node else {
            error("pricing must map model names to prices", at: node.location, hint: "pricing: {my-model: {input: 1.0, output: 2.0}}")
            return [:]
        }
        var prices: [String: ModelPrice] = [:]
        for entry in entries {
            if let price = decodePrice(entry.value, path: "pricing.\(entry.key)") { prices[entry.key] = price }
        }
        return prices
    }
}
