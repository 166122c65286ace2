// Injected into a test copy of review.html / report.html: measures the page as laid out by
// Chromium and writes the result as JSON into a "synthgate-checks" element for --dump-dom.
(function () {
  var view = { width: window.innerWidth, height: window.innerHeight };
  var first = JSON.parse(document.currentScript.getAttribute("data-first-screen") || "[]");
  var shut = Array.prototype.slice.call(document.querySelectorAll("details"));
  function widths() {
    var wide = [];
    document.querySelectorAll("body *").forEach(function (el) {
      var r = el.getBoundingClientRect();
      if (r.width > 0 && (r.right > view.width + 1 || r.left < -1)) {
        wide.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + " " +
                  Math.round(r.left) + ".." + Math.round(r.right));
      }
    });
    return wide;
  }
  var out = { viewport: view, scrollWidth: document.documentElement.scrollWidth,
              scrollHeight: document.documentElement.scrollHeight };
  out.firstScreen = first.map(function (sel) {
    var el = document.querySelector(sel);
    var r = el ? el.getBoundingClientRect() : null;
    return { selector: sel, found: !!el, top: r ? r.top : null, bottom: r ? r.bottom : null };
  });
  out.wideClosed = widths();
  shut.forEach(function (d) { d.open = true; });
  out.wideOpen = widths();
  out.scrollWidthOpen = document.documentElement.scrollWidth;
  out.plots = Array.prototype.map.call(document.querySelectorAll("svg.plot"), function (svg) {
    function axis(kind) {
      var g = svg.querySelector("g." + kind + "-axis");
      if (!g) { return null; }
      var label = g.querySelector("text.axis-label");
      return { ticks: g.querySelectorAll("text.tick").length,
               lines: g.querySelectorAll("line").length,
               label: label ? label.textContent : "" };
    }
    var title = svg.querySelector("title");
    return { kind: svg.getAttribute("class"), title: title ? title.textContent : "",
             x: axis("x"), y: axis("y"),
             legend: !!svg.querySelector("g.legend"),
             series: svg.querySelectorAll("polyline.series").length,
             width: svg.getBoundingClientRect().width };
  });
  var pre = document.createElement("pre");
  pre.id = "synthgate-checks";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
