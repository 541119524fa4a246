/*
 * Starts GraphiQL on the facade's page (graphql_facade/web/templates/graphiql.html): queries and
 * mutations go to the endpoint named by data-endpoint with the same-origin session cookie,
 * subscriptions to the same path over WebSocket. A file of its own: the page's
 * Content-Security-Policy runs no inline script.
 */
(function () {
  "use strict";
  var root = document.getElementById("graphiql");
  var endpoint = new URL(root.getAttribute("data-endpoint"), window.location.href);
  var socket = (endpoint.protocol === "https:" ? "wss:" : "ws:") + "//" + endpoint.host + endpoint.pathname;
  var fetcher = window.GraphiQL.createFetcher({
    url: endpoint.href,
    subscriptionUrl: socket,
    enableIncrementalDelivery: false,
    fetch: function (input, init) {
      return window.fetch(input, Object.assign({}, init, { credentials: "same-origin" }));
    },
  });
  window.ReactDOM.createRoot(root).render(
    window.React.createElement(window.GraphiQL, {
      fetcher: fetcher,
      defaultQuery: root.getAttribute("data-default-query"),
      defaultEditorToolsVisibility: true,
    }),
  );
})();
