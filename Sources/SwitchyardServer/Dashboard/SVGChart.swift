/// One line (or the bars) of a chart: a value per x position, nil where there is none.
struct ChartSeries: Sendable {
    var name: String
    var values: [Double?]
    /// A CSS colour (constant: charts never take a colour from data).
    var color: StaticString
}

/// Line and bar charts drawn on the server as inline SVG: no script, no external resource,
/// readable without CSS. Each point carries a `<title>` (the browser's native tooltip).
enum SVGChart {
    static let width = 560.0
    static let height = 200.0
    static let left = 64.0
    static let right = 12.0
    static let top = 10.0
    static let bottom = 26.0

    /// A line per series over the shared x labels. `id` names the chart (`data-chart`).
    static func line(id: String, title: String, labels: [String], series: [ChartSeries], format: (Double) -> String) -> HTML {
        let maximum = axisMaximum(series.flatMap { $0.values.compactMap { $0 } }.max() ?? 0)
        var body: [HTML] = [grid(maximum: maximum, format: format), xLabels(labels)]
        let count = labels.count
        for item in series {
            // A gap (nil) splits the line into runs.
            var run: [String] = []
            var runs: [[String]] = []
            var dots: [HTML] = []
            for (index, value) in item.values.enumerated() {
                guard let value else {
                    if !run.isEmpty { runs.append(run) }
                    run = []
                    continue
                }
                let x = xPosition(index, count: count)
                let y = yPosition(value, maximum: maximum)
                run.append(coordinate(x) + "," + coordinate(y))
                let label = index < labels.count ? labels[index] : ""
                dots.append(
                    """
                    <circle cx="\(coordinate(x))" cy="\(coordinate(y))" r="2.5" fill="\(item.color.description)"><title>\(item.name) \(label): \(format(value))</title></circle>
                    """)
            }
            if !run.isEmpty { runs.append(run) }
            for points in runs where points.count > 1 {
                body.append(
                    """
                    <polyline data-series="\(item.name)" fill="none" stroke="\(item.color.description)" stroke-width="2" points="\(points.joined(separator: " "))"/>
                    """)
            }
            body += dots
        }
        return frame(id: id, title: title, body: body, legend: series)
    }

    /// Bars of one series over the x labels.
    static func bars(id: String, title: String, labels: [String], series: ChartSeries, format: (Double) -> String) -> HTML {
        let maximum = axisMaximum(series.values.compactMap { $0 }.max() ?? 0)
        var body: [HTML] = [grid(maximum: maximum, format: format), xLabels(labels)]
        let slot = plotWidth / Double(max(1, labels.count))
        let barWidth = max(1, slot * 0.7)
        for (index, value) in series.values.enumerated() {
            guard let value, value > 0 else { continue }
            let y = yPosition(value, maximum: maximum)
            let x = left + slot * Double(index) + (slot - barWidth) / 2
            let label = index < labels.count ? labels[index] : ""
            body.append(
                """
                <rect data-series="\(series.name)" x="\(coordinate(x))" y="\(coordinate(y))" width="\(coordinate(barWidth))" height="\(coordinate(top + plotHeight - y))" fill="\(series.color.description)"><title>\(label): \(format(value))</title></rect>
                """)
        }
        return frame(id: id, title: title, body: body, legend: [series])
    }

    /// Horizontal bars, one per labelled item (a breakdown such as spend per model).
    static func breakdown(id: String, title: String, items: [(label: String, value: Double)], color: StaticString, format: (Double) -> String)
        -> HTML
    {
        let maximum = max(items.map(\.value).max() ?? 0, 1e-12)
        let rowHeight = 22.0
        let labelWidth = 170.0
        let valueWidth = 90.0
        let total = Double(max(1, items.count)) * rowHeight + 4
        var body: [HTML] = []
        for (index, item) in items.enumerated() {
            let y = 2 + Double(index) * rowHeight
            let barLength = max(1, (width - labelWidth - valueWidth) * item.value / maximum)
            let shown = item.label.count > 26 ? String(item.label.prefix(25)) + "…" : item.label
            body.append(
                """
                <text x="\(coordinate(labelWidth - 6))" y="\(coordinate(y + 15))" text-anchor="end" class="axis">\(shown)</text>\
                <rect data-series="\(item.label)" x="\(coordinate(labelWidth))" y="\(coordinate(y + 4))" width="\(coordinate(barLength))" height="14" fill="\(color.description)"><title>\(item.label): \(format(item.value))</title></rect>\
                <text x="\(coordinate(labelWidth + barLength + 6))" y="\(coordinate(y + 15))" class="axis">\(format(item.value))</text>
                """)
        }
        return """
            <svg class="chart breakdown" data-chart="\(id)" role="img" aria-label="\(title)" viewBox="0 0 \(Int(width)) \(Int(total))" xmlns="http://www.w3.org/2000/svg"><title>\(title)</title>\(body)</svg>
            """
    }

    // MARK: Geometry

    static var plotWidth: Double { width - left - right }
    static var plotHeight: Double { height - top - bottom }

    static func xPosition(_ index: Int, count: Int) -> Double {
        count <= 1 ? left + plotWidth / 2 : left + plotWidth * Double(index) / Double(count - 1)
    }

    static func yPosition(_ value: Double, maximum: Double) -> Double {
        top + plotHeight - plotHeight * min(max(value, 0), maximum) / maximum
    }

    /// The top of the y axis: four equal steps of a round size that reach `value`.
    static func axisMaximum(_ value: Double) -> Double { niceCeiling(value / 4) * 4 }

    /// 1, 2 or 5 times a power of ten at or above `value` (1 for nothing to show).
    static func niceCeiling(_ value: Double) -> Double {
        guard value.isFinite, value > 0 else { return 1 }
        var magnitude = 1.0
        while magnitude * 10 <= value { magnitude *= 10 }
        while magnitude > value { magnitude /= 10 }
        for step in [1.0, 2.0, 5.0, 10.0] where step * magnitude >= value { return step * magnitude }
        return 10 * magnitude
    }

    static func coordinate(_ value: Double) -> String {
        let rounded = (value * 10).rounded() / 10
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
    }

    /// Horizontal grid lines at 0, ¼, ½, ¾ and the top, labelled on the left.
    static func grid(maximum: Double, format: (Double) -> String) -> HTML {
        HTML.join(
            (0...4).map { step -> HTML in
                let value = maximum * Double(step) / 4
                let y = yPosition(value, maximum: maximum)
                return """
                    <line x1="\(coordinate(left))" x2="\(coordinate(width - right))" y1="\(coordinate(y))" y2="\(coordinate(y))" class="gridline"/>\
                    <text x="\(coordinate(left - 6))" y="\(coordinate(y + 4))" text-anchor="end" class="axis">\(format(value))</text>
                    """
            })
    }

    /// At most seven evenly spread x labels.
    static func xLabels(_ labels: [String]) -> HTML {
        guard !labels.isEmpty else { return .empty }
        let step = max(1, Int((Double(labels.count) / 6).rounded(.up)))
        return HTML.join(
            stride(from: 0, to: labels.count, by: step).map { index -> HTML in
                let x = xPosition(index, count: labels.count)
                return """
                    <text x="\(coordinate(x))" y="\(coordinate(height - 8))" text-anchor="middle" class="axis">\(labels[index])</text>
                    """
            })
    }

    static func frame(id: String, title: String, body: [HTML], legend: [ChartSeries]) -> HTML {
        let keys = legend.map { item -> HTML in
            "<span class=\"key\"><i style=\"background:\(item.color.description)\"></i>\(item.name)</span>"
        }
        return """
            <figure class="chart"><svg class="chart" data-chart="\(id)" role="img" aria-label="\(title)" viewBox="0 0 \(Int(width)) \(Int(height))" xmlns="http://www.w3.org/2000/svg"><title>\(title)</title>\(body)</svg><figcaption>\(title) \(keys)</figcaption></figure>
            """
    }
}
