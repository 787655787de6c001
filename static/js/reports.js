// Charts of the report pages (Apache ECharts, vendored). Loaded as a file: the Content-Security-Policy forbids
// inline scripts. Each report section names the JSON of its own view (data-report-json); each chart in it names the
// table it draws (data-table), the row key along its axis (data-x) and the row keys it plots (data-series). The
// numbers are also in the tables under the charts, so nothing is lost when scripts or charts are unavailable.
(() => {
  const charts = new Map();
  const PALETTE = ["#b3261e", "#1a5fb4", "#2e7d32", "#8a5a00", "#6a1b9a", "#00838f"];

  function columnLabel(table, key) {
    const column = (table.columns || []).find((c) => c.key === key);
    return column ? column.label : key;
  }

  function optionFor(element, table) {
    const kind = element.dataset.chart;
    const x = element.dataset.x;
    const keys = (element.dataset.series || "").split(",").filter(Boolean);
    const limit = Number(element.dataset.limit || 0);
    let rows = table.rows || [];
    if (limit) rows = rows.slice(0, limit);
    const base = {
      color: PALETTE,
      animation: false,
      tooltip: { trigger: "axis", confine: true },
      legend: { top: 0, type: "scroll" },
      grid: { left: 24, right: 32, top: 36, bottom: 8, containLabel: true },
    };
    if (kind === "bar") {
      // Horizontal bars, largest at the top.
      const ordered = rows.slice().reverse();
      return {
        ...base,
        legend: { show: keys.length > 1, top: 0 },
        grid: { ...base.grid, top: keys.length > 1 ? 36 : 8 },
        xAxis: { type: "value" },
        yAxis: { type: "category", data: ordered.map((r) => String(r[x])), axisLabel: { width: 140, overflow: "truncate" } },
        series: keys.map((key) => ({
          name: columnLabel(table, key),
          type: "bar",
          barMaxWidth: 24,
          data: ordered.map((r) => r[key] ?? 0),
        })),
      };
    }
    return {
      ...base,
      xAxis: { type: "category", boundaryGap: false, data: rows.map((r) => String(r[x])) },
      yAxis: { type: "value", minInterval: 1 },
      series: keys.map((key) => ({
        name: columnLabel(table, key),
        type: "line",
        showSymbol: rows.length < 40,
        data: rows.map((r) => r[key] ?? 0),
      })),
    };
  }

  function dispose(root) {
    root.querySelectorAll("[data-chart]").forEach((element) => {
      const chart = charts.get(element);
      if (chart) {
        chart.dispose();
        charts.delete(element);
      }
    });
  }

  async function render(section) {
    if (typeof window.echarts === "undefined" || section.dataset.reportLoaded === "true") return;
    section.dataset.reportLoaded = "true";
    let data;
    try {
      const response = await fetch(section.dataset.reportJson, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      data = await response.json();
    } catch (error) {
      section.querySelectorAll("[data-chart]").forEach((element) => {
        element.dataset.chartState = "failed";
      });
      return;
    }
    section.querySelectorAll("[data-chart]").forEach((element) => {
      const table = (data.tables || {})[element.dataset.table];
      if (!table || !(table.rows || []).length) {
        element.dataset.chartState = "empty";
        return;
      }
      // SVG: sharp on screen and on paper (the print stylesheet keeps the charts).
      const chart = window.echarts.init(element, null, { renderer: "svg" });
      chart.setOption(optionFor(element, table));
      charts.set(element, chart);
      element.dataset.chartState = "rendered";
    });
  }

  function renderAll() {
    charts.forEach((chart, element) => {
      if (!element.isConnected) {
        chart.dispose();
        charts.delete(element);
      }
    });
    document.querySelectorAll("[data-report-json]").forEach((section) => render(section));
  }

  function resizeAll() {
    charts.forEach((chart) => chart.resize());
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", renderAll);
  else renderAll();
  // The period form swaps the report in place (htmx): old charts go, the new section draws its own.
  document.addEventListener("htmx:beforeSwap", (event) => dispose(event.detail.target));
  document.addEventListener("htmx:afterSettle", renderAll);
  window.addEventListener("resize", resizeAll);
  document.addEventListener("click", (event) => {
    if (event.target instanceof Element && event.target.closest("[data-print]")) window.print();
  });
  // Picking a date means a custom period.
  document.addEventListener("input", (event) => {
    const target = event.target;
    if (target instanceof HTMLInputElement && target.type === "date" && target.form) {
      const custom = target.form.querySelector("input[name=period][value=custom]");
      if (custom) custom.checked = true;
    }
  });
  window.addEventListener("beforeprint", resizeAll);
  window.addEventListener("afterprint", resizeAll);
})();
