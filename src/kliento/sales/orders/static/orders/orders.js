/* Orders: the customer picker, removing lines, list-price hints. No dependencies. */
(function () {
  "use strict";

  function form() { return document.getElementById("order-form"); }

  function refresh() {
    var f = form();
    if (f) { f.dispatchEvent(new Event("change", { bubbles: true })); }
  }

  document.addEventListener("click", function (event) {
    var pick = event.target.closest("[data-order-pick]");
    if (pick) {
      var field = pick.getAttribute("data-order-pick");
      var input = document.getElementById("id_" + field);
      input.value = pick.getAttribute("data-id");
      var chip = document.getElementById("chip-" + field);
      chip.querySelector(".name").textContent = pick.getAttribute("data-name");
      chip.hidden = false;
      var box = pick.closest(".picker");
      box.querySelector("input[type=search]").value = "";
      box.querySelector(".picker-results").innerHTML = "";
      return;
    }
    var clear = event.target.closest("[data-order-clear]");
    if (clear) {
      var name = clear.getAttribute("data-order-clear");
      document.getElementById("id_" + name).value = "";
      document.getElementById("chip-" + name).hidden = true;
      return;
    }
    var remove = event.target.closest("[data-remove-line]");
    if (remove) {
      var row = remove.closest("tr");
      var body = row.parentNode;
      var errors = row.nextElementSibling;
      if (errors && errors.classList.contains("line-errors")) { errors.remove(); }
      if (body.querySelectorAll("tr:not(.line-errors)").length > 1) {
        row.remove();
      } else {
        row.querySelectorAll("input").forEach(function (i) { i.value = ""; });
        row.querySelectorAll("select").forEach(function (s) { s.selectedIndex = 0; });
      }
      refresh();
    }
  });

  // The list price of the chosen product shows as the price field's placeholder.
  document.addEventListener("change", function (event) {
    var select = event.target.closest("select[name=line_product]");
    if (!select) { return; }
    var option = select.options[select.selectedIndex];
    var row = select.closest("tr");
    var price = row.querySelector("input[name=line_price]");
    if (price) { price.placeholder = (option && option.getAttribute("data-price")) || ""; }
    // A product just picked counts one unit until the user says otherwise.
    var qty = row.querySelector("input[name=line_quantity]");
    if (qty && select.value && !qty.value) { qty.value = "1"; refresh(); }
  });

  // Each line's amount comes back with the totals; copy it into the row.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (!event.detail.target || event.detail.target.id !== "order-totals") { return; }
    var amounts = document.querySelectorAll("#order-totals [data-line-amount]");
    var rows = document.querySelectorAll("#lines-body tr:not(.line-errors)");
    rows.forEach(function (row, i) {
      var cell = row.querySelector(".line-amount");
      if (cell) { cell.textContent = amounts[i] ? amounts[i].getAttribute("data-line-amount") : "—"; }
    });
  });
})();

/* The order list: typing dates switches the period preset to "Dates…". */
document.addEventListener("change", function (event) {
  "use strict";
  var input = event.target.closest("#list-filters input[type=date]");
  var period = document.getElementById("f-period");
  if (input && period) { period.value = "custom"; }
}, true);
