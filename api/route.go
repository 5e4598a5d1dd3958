package api

import (
	"net/http"
)

// route is one entry of the API's single route table: the mux, the metrics labels,
// and the OpenAPI coverage test all read it.
type route struct {
	method string
	path   string
	// public routes need no token (only the OpenAPI document).
	public  bool
	handler func(s *Server, w http.ResponseWriter, r *http.Request, who principal)
}

func (rt route) pattern() string { return rt.method + " " + rt.path }

// routeTable is every route the API serves (docs/api.md, api/openapi.yaml).
var routeTable = []route{
	{method: "POST", path: "/v1/subscriptions", handler: (*Server).createSubscription},
	{method: "GET", path: "/v1/subscriptions", handler: (*Server).listSubscriptions},
	{method: "GET", path: "/v1/subscriptions/{id}", handler: (*Server).getSubscription},
	{method: "PATCH", path: "/v1/subscriptions/{id}", handler: (*Server).patchSubscription},
	{method: "DELETE", path: "/v1/subscriptions/{id}", handler: (*Server).deleteSubscription},
	{method: "GET", path: "/v1/subscriptions/{id}/secret", handler: (*Server).getSecret},
	{method: "POST", path: "/v1/subscriptions/{id}/secret/rotate", handler: (*Server).rotateSecret},
	{method: "POST", path: "/v1/subscriptions/{id}/test", handler: (*Server).sendTest},
	{method: "GET", path: "/v1/subscriptions/{id}/attempts", handler: (*Server).listAttempts},
	{method: "GET", path: "/v1/subscriptions/{id}/deliveries", handler: (*Server).listDeliveries},
	{method: "POST", path: "/v1/subscriptions/{id}/explain", handler: (*Server).explain},
	{method: "POST", path: "/v1/subscriptions/{id}/recover", handler: (*Server).recoverSubscription},
	{method: "GET", path: "/v1/deliveries/{id}", handler: (*Server).getDelivery},
	{method: "POST", path: "/v1/deliveries/{id}/redeliver", handler: (*Server).redeliver},
	{method: "POST", path: "/v1/replays", handler: (*Server).createReplay},
	{method: "GET", path: "/v1/replays/{id}", handler: (*Server).getReplay},
	{method: "GET", path: "/v1/event-types", handler: (*Server).listEventTypes},
	{method: "GET", path: "/v1/operational-events", handler: (*Server).listOperationalEvents},
	{method: "GET", path: "/v1/openapi.yaml", public: true, handler: (*Server).openAPI},
}
