// Draw every chart of the page from its Plotly JSON (put there by the server as data, never as
// code), and report drawing errors in the page rather than failing silently.
(function () {
  "use strict";
  document.querySelectorAll("script.chart-data").forEach(function (block) {
    var target = document.getElementById(block.dataset.target);
    try {
      var figure = JSON.parse(block.textContent);
      Plotly.newPlot(target, figure.data, figure.layout, { responsive: true, displaylogo: false });
    } catch (err) {
      target.textContent = "This chart could not be drawn: " + err.message;
      target.classList.add("broken");
    }
  });
})();
