/* Sales plans: period pickers submit on change; the editor closes in place. */
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var select = event.target.closest("select[data-autosubmit]");
    if (!select) { return; }
    if (select.hasAttribute("data-reset-period")) { select.form.period.value = ""; }
    select.form.submit();
  });
  document.addEventListener("click", function (event) {
    var close = event.target.closest("[data-close-editor]");
    if (close) {
      event.preventDefault();
      document.getElementById("plan-editor").innerHTML = "";
    }
  });
})();
