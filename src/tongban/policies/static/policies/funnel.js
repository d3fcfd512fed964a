/* The supervision funnel (matched → notified → viewed → applied → granted) as one ECharts bar
   chart. The figures come from the page (a JSON script element); the table beside the chart is
   the accessible version, so the chart itself is hidden from assistive technology. */
(function () {
  "use strict";

  function draw() {
    var holder = document.getElementById("funnel-chart");
    var source = document.getElementById("funnel-data");
    if (!holder || !source || typeof window.echarts === "undefined") {
      return;
    }
    var data = JSON.parse(source.textContent);
    holder.hidden = false;
    var chart = window.echarts.init(holder, null, { renderer: "svg" });
    chart.setOption({
      animation: false,
      grid: { left: 8, right: 8, top: 24, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: data.labels, axisLabel: { interval: 0 } },
      yAxis: { type: "value", minInterval: 1 },
      series: [{ type: "bar", data: data.values, barMaxWidth: 48, itemStyle: { color: "#1a73e8" },
                 label: { show: true, position: "top" } }]
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
