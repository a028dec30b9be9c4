import Logging

/// Budget alerts as log lines (the default sink; the server adds a metric and the webhook).
public struct LoggingBudgetAlerts: BudgetAlertSink {
    let logger: Logger?

    public init(logger: Logger?) {
        self.logger = logger
    }

    public func budgetAlert(_ alert: BudgetAlert) {
        logger?.warning(
            "budget threshold reached",
            metadata: [
                "budget_scope": .string(alert.scope.rawValue), "budget_id": .string(alert.value), "period": .string(alert.periodID),
                "threshold": .stringConvertible(alert.threshold), "spent_usd": .string(BudgetGuard.formatUSD(alert.spentUSD)),
                "limit_usd": .string(BudgetGuard.formatUSD(alert.limitUSD)),
            ])
    }
}
