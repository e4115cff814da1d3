import Foundation

/// An SVG chart of an attention sweep: prefill GFLOP/s and decode time against sequence length,
/// one line per kernel (a color each) and head shape (a dash pattern each, when the sweep has
/// several), with an optional reference (e.g. PyTorch) drawn dashed in black.
struct AttentionPlot {
    let rows: [[String: Any]]
    let reference: [[String: Any]]
    /// Whether decode calls were timed with the keys and values cached (`--warm-decode`).
    let warmDecode: Bool

    private let panelWidth = 460.0, panelHeight = 320.0, margin = 60.0
    private let colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
    private let shapeDashes = ["", "2,3", "9,3", "9,3,2,3"]

    struct Series {
        let points: [(x: Double, y: Double)]
        let color: String
        /// An SVG stroke-dasharray, empty for a solid line.
        let dashes: String
        var isReference: Bool { color == "black" }
    }

    /// Heads and head size of a sweep's row.
    private struct HeadShape: Equatable {
        let heads: Int, headSize: Int
        init?(_ row: [String: Any]) {
            guard let heads = row["heads"] as? Int, let headSize = row["head_size"] as? Int else { return nil }
            self.heads = heads
            self.headSize = headSize
        }
        var label: String { "\(heads) heads × \(headSize)" }
    }

    func svg() -> String {
        let width = 2 * panelWidth + 3 * margin
        let height = panelHeight + 2 * margin + 30
        var body = ""
        body += panel(originX: margin, title: "prefill: GFLOP/s (higher is better)", mode: "prefill", metric: "gflops", logY: false)
        body += panel(originX: 2 * margin + panelWidth, title: "decode: µs per call, \(warmDecode ? "cache warm" : "cache cold") (lower is better)", mode: "decode", metric: "us_mean", logY: true)
        // legend: kernels by color, then head shapes by dash pattern when there are several
        var x = margin
        func legend(_ label: String, color: String, dashes: String) {
            body += "<line x1='\(x)' y1='\(height - 20)' x2='\(x + 24)' y2='\(height - 20)' stroke='\(color)' stroke-width='2.5' stroke-dasharray='\(dashes)'/>"
            body += "<text x='\(x + 30)' y='\(height - 16)' font-size='12'>\(label)</text>"
            x += 40 + Double(label.count) * 7
        }
        for (i, name) in kernelNames().enumerated() { legend(name, color: colors[i % colors.count], dashes: "") }
        let shapes = headShapes()
        if shapes.count > 1 {
            for (i, shape) in shapes.enumerated() { legend(shape.label, color: "#555", dashes: shapeDashes[i % shapeDashes.count]) }
        }
        if !reference.isEmpty { legend(referenceName(), color: "black", dashes: "5,4") }
        let title = shapes.count == 1 ? shapes[0].label : "head shapes by dash pattern"
        return """
            <svg xmlns='http://www.w3.org/2000/svg' width='\(width)' height='\(height)' font-family='sans-serif'>
            <rect width='100%' height='100%' fill='white'/>
            <text x='\(margin)' y='22' font-size='15' font-weight='bold'>Causal attention kernels, \(title), float32</text>
            \(body)
            </svg>

            """
    }

    private func kernelNames() -> [String] {
        var names: [String] = []
        for row in rows { if let name = row["kernel"] as? String, !names.contains(name) { names.append(name) } }
        return names
    }

    private func headShapes() -> [HeadShape] {
        var shapes: [HeadShape] = []
        for row in rows { if let shape = HeadShape(row), !shapes.contains(shape) { shapes.append(shape) } }
        return shapes
    }

    private func referenceName() -> String { reference.first?["kernel"] as? String ?? "reference" }

    private func series(mode: String, metric: String) -> [Series] {
        let shapes = headShapes()
        var result: [Series] = []
        for (k, name) in kernelNames().enumerated() {
            for (s, shape) in shapes.enumerated() {
                let points = rows.filter { $0["kernel"] as? String == name && $0["mode"] as? String == mode && HeadShape($0) == shape }
                    .compactMap { row in (row["T"] as? Int).flatMap { t in (row[metric] as? Double).map { (Double(t), $0) } } }
                result.append(Series(points: points, color: colors[k % colors.count], dashes: shapeDashes[s % shapeDashes.count]))
            }
        }
        let referencePoints = reference.filter { $0["mode"] as? String == mode }.compactMap { row -> (Double, Double)? in
            guard let t = (row["T"] as? NSNumber)?.doubleValue, let y = (row[metric] as? NSNumber)?.doubleValue else { return nil }
            return (t, y)
        }
        if !referencePoints.isEmpty { result.append(Series(points: referencePoints, color: "black", dashes: "5,4")) }
        return result
    }

    private func panel(originX: Double, title: String, mode: String, metric: String, logY: Bool) -> String {
        let all = series(mode: mode, metric: metric)
        let points = all.flatMap(\.points)
        guard !points.isEmpty else { return "" }
        let top = margin, bottom = margin + panelHeight
        let xs = points.map(\.x), ys = points.map(\.y).filter { $0 > 0 }
        let (xMin, xMax) = (log2(xs.min()!), log2(xs.max()!))
        let yLow = logY ? log10(ys.min()!) : 0, yHigh = logY ? log10(ys.max()!) : ys.max()! * 1.1
        let (y0, y1) = logY ? (floor(yLow), ceil(yHigh)) : (0, niceCeiling(yHigh))
        func px(_ x: Double) -> Double { originX + (log2(x) - xMin) / max(xMax - xMin, 1e-9) * panelWidth }
        func py(_ y: Double) -> Double {
            let v = logY ? log10(max(y, 1e-9)) : y
            return bottom - (v - y0) / max(y1 - y0, 1e-9) * panelHeight
        }
        var svg = "<text x='\(originX)' y='\(top - 12)' font-size='13'>\(title)</text>"
        svg += "<rect x='\(originX)' y='\(top)' width='\(panelWidth)' height='\(panelHeight)' fill='none' stroke='#888'/>"
        for x in Set(xs).sorted() {
            svg += "<line x1='\(px(x))' y1='\(bottom)' x2='\(px(x))' y2='\(bottom + 5)' stroke='#888'/>"
            svg += "<text x='\(px(x))' y='\(bottom + 18)' font-size='11' text-anchor='middle'>\(Int(x))</text>"
        }
        svg += "<text x='\(originX + panelWidth / 2)' y='\(bottom + 36)' font-size='12' text-anchor='middle'>sequence length T</text>"
        let ticks: [Double] = logY ? stride(from: y0, through: y1, by: 1).map { pow(10, $0) }
            : stride(from: 0, through: y1, by: y1 / 5).map { $0 }
        for tick in ticks {
            svg += "<line x1='\(originX)' y1='\(py(tick))' x2='\(originX + panelWidth)' y2='\(py(tick))' stroke='#eee'/>"
            svg += "<text x='\(originX - 6)' y='\(py(tick) + 4)' font-size='11' text-anchor='end'>\(String(format: "%g", tick))</text>"
        }
        for s in all where !s.points.isEmpty {
            let path = s.points.sorted { $0.x < $1.x }.map { "\(px($0.x)),\(py($0.y))" }.joined(separator: " ")
            svg += "<polyline points='\(path)' fill='none' stroke='\(s.color)' stroke-width='\(s.isReference ? 2 : 2.5)' stroke-dasharray='\(s.dashes)'/>"
            for p in s.points { svg += "<circle cx='\(px(p.x))' cy='\(py(p.y))' r='3' fill='\(s.color)'/>" }
        }
        return svg
    }

    private func niceCeiling(_ value: Double) -> Double {
        let magnitude = pow(10, floor(log10(max(value, 1e-9))))
        for step in [1.0, 2, 2.5, 5, 10] where step * magnitude >= value { return step * magnitude }
        return 10 * magnitude
    }
}
