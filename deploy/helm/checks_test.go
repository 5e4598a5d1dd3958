package helm_test

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/claimable/eventrouter/config"
)

// problems lists everything wrong with a rendering; empty when it is fine. Kept apart
// from the tests so that TestChecksCatchMistakes can prove each check fires.
func problems(m manifests) []string {
	var probs []string
	add := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }

	ws, wprobs := m.workloads()
	probs = append(probs, wprobs...)
	var senderCfg config.Config
	for _, role := range roles {
		w, ok := ws[role]
		if !ok {
			add("no workload for role %s", role)
			continue
		}
		cfg, wp := m.workloadProblems(role, w)
		probs = append(probs, wp...)
		if role == "sender" {
			senderCfg = cfg
		}
	}
	probs = append(probs, m.serviceProblems(ws)...)
	probs = append(probs, m.pdbProblems(ws)...)
	probs = append(probs, m.serviceMonitorProblems()...)
	if w, ok := ws["sender"]; ok {
		probs = append(probs, m.scaledObjectProblems(w, senderCfg)...)
	}
	return probs
}

// workloadProblems checks one role's workload and returns its main container's
// configuration.
func (m manifests) workloadProblems(role string, w workload) (config.Config, []string) {
	var probs []string
	add := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }

	if w.Selector == nil || !w.selectedBy(w.Selector.MatchLabels) || len(w.Selector.MatchExpressions) > 0 {
		add("%s: its selector does not select its own pod template (the API server rejects it)", w.Name)
	}
	for _, e := range validation.IsDNS1123Label(w.podName()) {
		add("%s: pod name %s: %s", w.Name, w.podName(), e)
	}
	// Router and sender are consumer group members with static membership: their pod
	// names must survive a restart, which only a StatefulSet gives.
	wantKind := "StatefulSet"
	if role == "api" {
		wantKind = "Deployment"
	}
	if w.Kind != wantKind {
		add("%s: the %s role runs as a %s, want a %s", w.Name, role, w.Kind, wantKind)
	}
	c := mainContainer(role, w)
	if c == nil {
		add("%s: no container named %s", w.Name, role)
		return config.Config{}, probs
	}
	if !slices.Contains(c.Args, role) || c.Args[len(c.Args)-1] != role {
		add("%s: container args %q do not end with the role command %q", w.Name, c.Args, role)
	}
	cfg, cp := m.containerConfig(w, c)
	probs = append(probs, cp...)
	for i := range w.Template.Spec.InitContainers {
		_, ip := m.containerConfig(w, &w.Template.Spec.InitContainers[i])
		probs = append(probs, ip...)
	}

	instance := ""
	for _, e := range c.Env {
		if e.Name == config.EnvName("kafka.instance_id") {
			instance = "literal"
			if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name" {
				instance = "pod name"
			}
		}
	}
	switch {
	case role != "api" && !cfg.Kafka.StaticMembership:
		if instance != "" {
			add("%s: kafka.static_membership is false, yet %s is set", w.Name, config.EnvName("kafka.instance_id"))
		}
	case role != "api" && instance != "pod name":
		add("%s: %s must come from the pod name (downward API metadata.name) for static membership", w.Name, config.EnvName("kafka.instance_id"))
	case role == "api" && instance != "":
		add("%s: the api is no group member; it needs no %s", w.Name, config.EnvName("kafka.instance_id"))
	}

	probs = append(probs, probeProblems(w.Name, c, cfg)...)
	grace := w.Template.Spec.TerminationGracePeriodSeconds
	if grace == nil || float64(*grace) <= cfg.Ops.ShutdownTimeout.Seconds() {
		add("%s: terminationGracePeriodSeconds %v must exceed ops.shutdown_timeout %s, or SIGTERM's graceful shutdown is cut short by SIGKILL",
			w.Name, ptrString(grace), cfg.Ops.ShutdownTimeout)
	}
	if role == "api" {
		if _, ok := containerPort(c, listenPort(cfg.API.Listen)); !ok {
			add("%s: api.listen %q is not a container port", w.Name, cfg.API.Listen)
		}
	}
	return cfg, probs
}

// probeProblems: liveness on /healthz and readiness on /readyz, both on the ops listener.
func probeProblems(where string, c *corev1.Container, cfg config.Config) []string {
	var probs []string
	check := func(kind string, p *corev1.Probe, path string) {
		switch {
		case p == nil || p.HTTPGet == nil:
			probs = append(probs, fmt.Sprintf("%s: no HTTP %s probe", where, kind))
		case p.HTTPGet.Path != path:
			probs = append(probs, fmt.Sprintf("%s: %s probe on %s, want %s", where, kind, p.HTTPGet.Path, path))
		default:
			port, ok := containerPort(c, p.HTTPGet.Port.String())
			if !ok || fmt.Sprint(port) != listenPort(cfg.Ops.Listen) {
				probs = append(probs, fmt.Sprintf("%s: %s probe port %s is not the ops listener (ops.listen %q)", where, kind, p.HTTPGet.Port.String(), cfg.Ops.Listen))
			}
		}
	}
	// /readyz fails during a Redis outage while the roles keep working from their last
	// snapshot: as a liveness probe it would restart them and lose the snapshot.
	check("liveness", c.LivenessProbe, "/healthz")
	check("readiness", c.ReadinessProbe, "/readyz")
	return probs
}

// serviceProblems: each Service selects a role's pods and targets ports they have.
func (m manifests) serviceProblems(ws map[string]workload) []string {
	var probs []string
	for _, name := range sortedKeys(m.Services) {
		s := m.Services[name]
		var target *workload
		for _, role := range roles {
			if w, ok := ws[role]; ok && w.selectedBy(s.Spec.Selector) {
				target = &w
			}
		}
		if target == nil {
			probs = append(probs, fmt.Sprintf("service %s selects no workload's pods", name))
			continue
		}
		c := mainContainer(target.Template.Labels[componentLabel], *target)
		for _, p := range s.Spec.Ports {
			if c == nil {
				break
			}
			if _, ok := containerPort(c, p.TargetPort.String()); !ok {
				probs = append(probs, fmt.Sprintf("service %s: targetPort %s is no port of %s", name, p.TargetPort.String(), target.Name))
			}
		}
	}
	for _, s := range m.StatefulSets {
		svc, ok := m.Services[s.Spec.ServiceName]
		switch {
		case !ok:
			probs = append(probs, fmt.Sprintf("%s: serviceName %q is not a Service of the chart", s.Name, s.Spec.ServiceName))
		case svc.Spec.ClusterIP != corev1.ClusterIPNone:
			probs = append(probs, fmt.Sprintf("%s: its governing Service %s must be headless", s.Name, svc.Name))
		}
	}
	return probs
}

// pdbProblems: at most one budget per role, selecting its pods, never blocking a drain.
func (m manifests) pdbProblems(ws map[string]workload) []string {
	var probs []string
	for _, name := range sortedKeys(m.PDBs) {
		p := m.PDBs[name]
		var sel map[string]string
		if p.Spec.Selector != nil {
			sel = p.Spec.Selector.MatchLabels
		}
		var matched []string
		for _, role := range roles {
			if w, ok := ws[role]; ok && w.selectedBy(sel) {
				matched = append(matched, role)
			}
		}
		if len(matched) != 1 {
			probs = append(probs, fmt.Sprintf("PodDisruptionBudget %s selects the pods of %d roles %q, want exactly one", name, len(matched), matched))
		}
		if mu := p.Spec.MaxUnavailable; mu == nil || mu.String() == "0" || mu.String() == "0%" {
			probs = append(probs, fmt.Sprintf("PodDisruptionBudget %s: maxUnavailable must be at least 1, or no node can be drained", name))
		}
		if p.Spec.UnhealthyPodEvictionPolicy == nil || *p.Spec.UnhealthyPodEvictionPolicy != policyv1.AlwaysAllow {
			probs = append(probs, fmt.Sprintf("PodDisruptionBudget %s: unhealthyPodEvictionPolicy must be AlwaysAllow: a Redis outage makes every pod unready and would block drains", name))
		}
	}
	return probs
}

// serviceMonitorProblems: the ServiceMonitor scrapes /metrics on the ops port of every
// role's Service.
func (m manifests) serviceMonitorProblems() []string {
	var probs []string
	for _, name := range sortedKeys(m.ServiceMonitors) {
		sm := m.ServiceMonitors[name]
		if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != "ops" || sm.Spec.Endpoints[0].Path != "/metrics" {
			probs = append(probs, fmt.Sprintf("ServiceMonitor %s: want one endpoint, port ops, path /metrics", name))
			continue
		}
		scraped := map[string]bool{}
		for _, s := range m.Services {
			if selectorMatches(sm.Spec.Selector.MatchLabels, s.Labels) && hasPortNamed(s, "ops") {
				scraped[s.Labels[componentLabel]] = true
			}
		}
		for _, role := range roles {
			if !scraped[role] {
				probs = append(probs, fmt.Sprintf("ServiceMonitor %s does not scrape the %s role (no selected Service with an ops port)", name, role))
			}
		}
	}
	return probs
}

func selectorMatches(sel, lbls map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if lbls[k] != v {
			return false
		}
	}
	return true
}

func hasPortNamed(s *corev1.Service, name string) bool {
	return slices.ContainsFunc(s.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == name })
}

// scaledObjectProblems: KEDA scales the sender StatefulSet on its group's lag on the
// deliveries topic, never beyond the partition count.
func (m manifests) scaledObjectProblems(sender workload, cfg config.Config) []string {
	var probs []string
	add := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	for _, name := range sortedKeys(m.ScaledObjects) {
		so := m.ScaledObjects[name]
		ref := so.Spec.ScaleTargetRef
		if ref == nil || ref.Kind != sender.Kind || ref.Name != sender.Name || ref.APIVersion != "apps/v1" {
			add("ScaledObject %s: scaleTargetRef %+v is not the sender %s %s", name, ref, sender.Kind, sender.Name)
		}
		if sender.Replicas != nil {
			add("%s: replicas is set while KEDA scales it: every helm upgrade would reset KEDA's count", sender.Name)
		}
		if so.Spec.MaxReplicaCount == nil || int(*so.Spec.MaxReplicaCount) > cfg.Topics.Partitions {
			add("ScaledObject %s: maxReplicaCount %s exceeds the deliveries topic's %d partitions: the extra senders would idle",
				name, ptrString(so.Spec.MaxReplicaCount), cfg.Topics.Partitions)
		}
		if len(so.Spec.Triggers) != 1 || so.Spec.Triggers[0].Type != "kafka" {
			add("ScaledObject %s: want one kafka trigger", name)
			continue
		}
		md := so.Spec.Triggers[0].Metadata
		want := map[string]string{
			"bootstrapServers": strings.Join(cfg.Kafka.Brokers, ","),
			"consumerGroup":    cfg.Delivery.Group,
			// Only the deliveries topic: retry tiers hold waiting records by design.
			"topic": cfg.Topics.Deliveries,
		}
		for _, k := range sortedKeys(want) {
			if md[k] != want[k] {
				add("ScaledObject %s: trigger %s = %q, want %q (the sender's configuration)", name, k, md[k], want[k])
			}
		}
		if md["lagThreshold"] == "" {
			add("ScaledObject %s: no lagThreshold", name)
		}
	}
	return probs
}

func sortedKeys[T any](m map[string]T) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func ptrString[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}
