/* Kliento: the few behaviours htmx does not cover. No dependencies. */
(function () {
  "use strict";

  // A <select data-autosubmit> reloads the page with its form's choices (no button to press).
  document.addEventListener("change", function (event) {
    var field = event.target.closest("[data-autosubmit]");
    if (field && field.form) { field.form.submit(); }
  });

  // "Add another" for repeated inputs (emails, phones): clone the last row, empty it.
  document.addEventListener("click", function (event) {
    var add = event.target.closest("[data-multi-add]");
    if (add) {
      var box = document.getElementById(add.getAttribute("data-multi-add"));
      var rows = box.querySelectorAll(".multi-row");
      var last = rows[rows.length - 1];
      var copy = last.cloneNode(true);
      copy.querySelectorAll("input").forEach(function (input) { input.value = ""; });
      box.appendChild(copy);
      copy.querySelector("input").focus();
      return;
    }
    var remove = event.target.closest("[data-multi-remove]");
    if (remove) {
      var row = remove.closest(".multi-row, .link-row");
      var parent = row.parentNode;
      if (row.classList.contains("link-row") || parent.querySelectorAll(".multi-row").length > 1) {
        row.remove();
      } else {
        row.querySelectorAll("input").forEach(function (input) { input.value = ""; });
      }
      return;
    }
    // Company picker: a result button adds a link row built from the <template>.
    var pick = event.target.closest("[data-pick-id]");
    if (pick) {
      var picker = pick.closest(".picker");
      var target = document.getElementById(picker.getAttribute("data-links"));
      var id = pick.getAttribute("data-pick-id");
      if (!target.querySelector('input[name="company_id"][value="' + id + '"]')) {
        var tpl = document.getElementById(picker.getAttribute("data-template"));
        var node = tpl.content.firstElementChild.cloneNode(true);
        node.querySelector(".name").textContent = pick.getAttribute("data-pick-name");
        node.querySelector('input[name="company_id"]').value = id;
        node.querySelector('input[name="company_name"]').value = pick.getAttribute("data-pick-name");
        target.appendChild(node);
      }
      picker.querySelector("input[type=search]").value = "";
      picker.querySelector(".picker-results").innerHTML = "";
      return;
    }
    // Close an open user menu when clicking elsewhere.
    document.querySelectorAll("details.usermenu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) { menu.removeAttribute("open"); }
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      document.querySelectorAll("details.usermenu[open]").forEach(function (m) { m.removeAttribute("open"); });
      document.querySelectorAll("[data-inline-form]").forEach(function (f) { f.innerHTML = ""; });
    }
    // "/" focuses the global search unless the user is typing.
    if (event.key === "/" && !/^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName)) {
      var search = document.getElementById("global-search");
      if (search) { event.preventDefault(); search.focus(); }
    }
  });

  // Cancel buttons inside inline htmx forms just empty their container.
  document.addEventListener("click", function (event) {
    var cancel = event.target.closest("[data-cancel-inline]");
    if (cancel) {
      event.preventDefault();
      var holder = cancel.closest("[data-inline-form]");
      if (holder) { holder.innerHTML = ""; }
    }
  });
})();
