// Draw every chart of a page: a <div class="chart" data-src="…json" data-chart="name"> gets the
// chart that its JSON describes. No inline script (the Content-Security-Policy forbids it).
(function () {
  "use strict";
  function bar(data, horizontal) {
    var category = { type: "category", data: data.labels, axisLabel: { interval: 0, rotate: horizontal ? 0 : 30 } };
    var value = { type: "value" };
    return {
      title: { text: data.title, left: "center", textStyle: { fontSize: 14 } },
      tooltip: { trigger: "axis" },
      grid: { left: 60, right: 20, bottom: 60, top: 40, containLabel: true },
      xAxis: horizontal ? value : category,
      yAxis: horizontal ? category : value,
      series: [{ type: "bar", data: data.values }]
    };
  }
  var builders = {
    funds_by_city: function (d) { return bar(d, false); },
    funnel: function (d) {  // the first step on top
      return bar({ title: d.title, labels: d.labels.slice().reverse(), values: d.values.slice().reverse() }, true);
    },
    by_quarter: function (d) {
      return {
        title: { text: d.title, left: "center", textStyle: { fontSize: 14 } },
        tooltip: { trigger: "axis" },
        legend: { bottom: 0, data: d.series_names },
        grid: { left: 60, right: 60, bottom: 50, top: 40, containLabel: true },
        xAxis: { type: "category", data: d.labels },
        yAxis: [{ type: "value", name: d.axis_names[0] }, { type: "value", name: d.axis_names[1] }],
        series: [
          { name: d.series_names[0], type: "bar", data: d.funds },
          { name: d.series_names[1], type: "line", yAxisIndex: 1, data: d.signings }
        ]
      };
    }
  };
  function draw() {
    var boxes = document.querySelectorAll("div.chart[data-src]");
    var sources = {};
    boxes.forEach(function (box) { sources[box.getAttribute("data-src")] = true; });
    Object.keys(sources).forEach(function (src) {
      fetch(src, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (all) {
        boxes.forEach(function (box) {
          if (box.getAttribute("data-src") !== src) { return; }
          var name = box.getAttribute("data-chart");
          var chart = echarts.init(box, null, { renderer: "svg" });
          chart.setOption(builders[name](all[name]));
          box.setAttribute("data-drawn", "true");
          window.addEventListener("resize", function () { chart.resize(); });
        });
      });
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
})();
