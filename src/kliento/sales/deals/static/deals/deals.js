/* The kanban board: HTML5 drag and drop of deal cards between stages, and onto Won / Lost.
 *
 * A drop moves the card at once (optimistic) and POSTs the move with the card's version;
 * the server answers with the new version and every column's count and total. When the
 * server refuses (stale version, closed deal, no right, no network) the card goes back
 * where it was and the reason shows above the board.
 */
(function () {
  "use strict";

  function csrfToken() {
    var headers = document.body.getAttribute("hx-headers");
    if (headers) {
      try { return JSON.parse(headers)["X-CSRFToken"]; } catch (e) { /* fall through */ }
    }
    var match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function board() { return document.getElementById("board"); }

  function showError(message) {
    var box = document.getElementById("board-error");
    if (!box) return;
    box.textContent = message;
    box.hidden = false;
    clearTimeout(showError.timer);
    showError.timer = setTimeout(function () { box.hidden = true; }, 8000);
  }

  function hideError() {
    var box = document.getElementById("board-error");
    if (box) box.hidden = true;
  }

  function post(url, fields) {
    var body = new FormData();
    Object.keys(fields).forEach(function (k) { body.append(k, fields[k]); });
    var filters = board().dataset.filters;
    return fetch(url + (filters ? "?" + filters : ""), {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" },
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          var detail = data.fields ? Object.values(data.fields).join(" ") : "";
          var error = new Error(detail || data.message || board().dataset.msgFailed);
          error.status = response.status;
          throw error;
        }
        return data;
      });
    }, function () {
      throw new Error(board().dataset.msgNetwork);
    });
  }

  function applyColumns(columns) {
    var count = 0;
    Object.keys(columns).forEach(function (stageId) {
      var col = document.querySelector('.board-col[data-stage="' + stageId + '"]');
      if (!col) return;
      var c = columns[stageId];
      col.querySelector("[data-col-count]").textContent = grouped(c.count);
      col.querySelector("[data-col-total]").textContent = c.total_display;
      var empty = col.querySelector(".board-col-empty");
      if (empty) empty.hidden = c.count > 0;
      count += c.count;
    });
    var total = document.querySelector("[data-board-count]");
    if (total) total.textContent = grouped(count);
  }

  // A count as the page writes it: "1,234" in English, "1 234" in Russian (|intcomma).
  function grouped(n) {
    return Number(n).toLocaleString(document.documentElement.lang || undefined);
  }

  function refreshEmpty(col) {
    if (!col) return;
    var empty = col.querySelector(".board-col-empty");
    if (empty) empty.hidden = !!col.querySelector(".deal-card");
  }

  /* Insert the card among the column's cards by amount, highest first (the board's order). */
  function place(card, body) {
    var amount = parseFloat(card.dataset.amount || "0");
    var cards = body.querySelectorAll(".deal-card");
    for (var i = 0; i < cards.length; i++) {
      if (cards[i] !== card && parseFloat(cards[i].dataset.amount || "0") < amount) {
        body.insertBefore(card, cards[i]);
        return;
      }
    }
    var anchor = body.querySelector(".board-more") || body.querySelector(".board-col-empty");
    body.insertBefore(card, anchor);
  }

  var dragged = null;
  var origin = null;

  function restore(card, from) {
    from.parent.insertBefore(card, from.next && from.next.parentNode === from.parent ? from.next : null);
    card.classList.remove("is-pending");
    refreshEmpty(from.parent);
    card.closest(".board-col") && refreshEmpty(card.closest(".board-col"));
  }

  function moveTo(card, body) {
    var from = { parent: card.parentNode, next: card.nextSibling };
    var fromCol = card.closest(".board-col");
    var stage = body.dataset.stage;
    if (fromCol && fromCol.dataset.stage === stage) return;
    hideError();
    place(card, body);
    card.classList.add("is-pending");
    refreshEmpty(fromCol);
    refreshEmpty(body.closest(".board-col"));
    post("/deals/" + card.dataset.id + "/move/", { stage: stage, version: card.dataset.version })
      .then(function (data) {
        card.dataset.version = data.version;
        card.classList.remove("is-pending");
        card.classList.remove("is-stale");
        var stale = card.querySelector(".badge-stale");
        if (stale) stale.remove();
        applyColumns(data.columns);
      })
      .catch(function (error) {
        restore(card, from);
        showError(cardName(card) + ": " + error.message);
      });
  }

  function cardName(card) {
    var link = card.querySelector(".deal-card-name");
    return link ? "“" + link.textContent.trim() + "”" : "";
  }

  function close(card, action, extra) {
    var from = { parent: card.parentNode, next: card.nextSibling };
    var fromCol = card.closest(".board-col");
    hideError();
    card.classList.add("is-pending");
    var fields = Object.assign({ version: card.dataset.version }, extra || {});
    return post("/deals/" + card.dataset.id + "/" + action + "/", fields)
      .then(function (data) {
        card.remove();
        refreshEmpty(fromCol);
        applyColumns(data.columns);
        flash(action === "win" ? board().dataset.msgWon : board().dataset.msgLost);
      })
      .catch(function (error) {
        restore(card, from);
        throw error;
      });
  }

  function flash(message) {
    var box = document.createElement("div");
    box.className = "alert alert-success board-flash";
    box.setAttribute("role", "status");
    box.textContent = message;
    document.body.appendChild(box);
    setTimeout(function () { box.remove(); }, 3000);
  }

  function askLoss(card) {
    var dialog = document.getElementById("lose-dialog");
    if (!dialog) return;
    var form = dialog.querySelector("form");
    form.reset();
    document.getElementById("lose-error").textContent = "";
    document.getElementById("lose-deal-name").textContent =
      card.querySelector(".deal-card-name").textContent;
    dialog.dataset.card = card.id;
    dialog.showModal();
  }

  document.addEventListener("dragstart", function (event) {
    var card = event.target.closest && event.target.closest(".deal-card[draggable=true]");
    if (!card) return;
    dragged = card;
    origin = card.closest(".board-col");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.dataset.id);
    requestAnimationFrame(function () { card.classList.add("is-dragging"); });
    document.body.classList.add("board-dragging");
  });

  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("is-dragging");
    dragged = null;
    origin = null;
    document.body.classList.remove("board-dragging");
    document.querySelectorAll(".drop-over").forEach(function (el) { el.classList.remove("drop-over"); });
  });

  function zoneOf(target) {
    if (!target.closest) return null;
    var zone = target.closest("[data-closezone]");
    if (zone) return zone;
    var col = target.closest(".board-col");
    return col ? col.querySelector("[data-dropzone]") : null;
  }

  document.addEventListener("dragover", function (event) {
    if (!dragged) return;
    var zone = zoneOf(event.target);
    if (!zone) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    document.querySelectorAll(".drop-over").forEach(function (el) {
      if (el !== zone) el.classList.remove("drop-over");
    });
    zone.classList.add("drop-over");
  });

  document.addEventListener("dragleave", function (event) {
    var zone = zoneOf(event.target);
    if (zone && !zone.contains(event.relatedTarget)) zone.classList.remove("drop-over");
  });

  document.addEventListener("drop", function (event) {
    if (!dragged) return;
    var zone = zoneOf(event.target);
    if (!zone) return;
    event.preventDefault();
    zone.classList.remove("drop-over");
    var card = dragged;
    if (zone.dataset.closezone === "win") {
      close(card, "win").catch(function (error) { showError(cardName(card) + ": " + error.message); });
    } else if (zone.dataset.closezone === "lose") {
      askLoss(card);
    } else {
      moveTo(card, zone);
    }
  });

  document.addEventListener("submit", function (event) {
    if (event.target.id !== "lose-form") return;
    event.preventDefault();
    var dialog = document.getElementById("lose-dialog");
    var card = document.getElementById(dialog.dataset.card);
    var reason = document.getElementById("lose-reason").value;
    if (!reason) {
      document.getElementById("lose-error").textContent =
        document.getElementById("lose-reason").options[0].textContent;
      return;
    }
    close(card, "lose", { reason: reason, note: document.getElementById("lose-note").value })
      .then(function () { dialog.close(); })
      .catch(function (error) {
        document.getElementById("lose-error").textContent = error.message;
      });
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-dialog-cancel]")) {
      event.target.closest("dialog").close();
    }
  });

  document.addEventListener("change", function (event) {
    if (event.target.id === "f-pipeline") {
      event.stopPropagation();
      window.location.search = "?pipeline=" + encodeURIComponent(event.target.value);
    }
  }, true);
})();
