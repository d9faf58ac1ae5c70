// Starts Swagger UI on the API page (kept out of the HTML: the CSP allows no inline script).
window.addEventListener("load", function () {
  "use strict";
  var node = document.getElementById("swagger-ui");
  if (!node || typeof window.SwaggerUIBundle !== "function") return;
  window.SwaggerUIBundle({ url: node.getAttribute("data-openapi"), domNode: node, deepLinking: true });
});
