/* Every cockpit chart: an element with data-chart="<id of a JSON script element>" holding an
   Apache ECharts option object (built on the server). The table next to each chart is its
   accessible version, so the chart itself is hidden from assistive technology. When drawn, the
   element gets data-rendered="1" (the browser test waits for it). */
(function () {
  "use strict";

  function drawAll() {
    if (typeof window.echarts === "undefined") {
      return;
    }
    var holders = document.querySelectorAll("[data-chart]");
    Array.prototype.forEach.call(holders, function (holder) {
      var source = document.getElementById(holder.getAttribute("data-chart"));
      if (!source) {
        return;
      }
      var option = JSON.parse(source.textContent);
      holder.hidden = false;
      var chart = window.echarts.init(holder, null, { renderer: "svg" });
      chart.setOption(option);
      chart.resize();
      holder.setAttribute("data-rendered", "1");
      window.addEventListener("resize", function () { chart.resize(); });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
}());
