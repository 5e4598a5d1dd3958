package helm_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/claimable/eventrouter/config"
)

// allOn turns on everything optional: the KEDA ScaledObject, the ServiceMonitor, a
// chart-made Secret, extra variables and the ingest topics.
const allOn = `
config:
  kafka:
    brokers: ["kafka-0.kafka:9092", "kafka-1.kafka:9092"]
  topics:
    partitions: 24
  delivery:
    group: webhooks-sender
secrets:
  env:
    EVENTROUTER_API_ADMIN_TOKENS: an-admin-token-of-32-characters!
    EVENTROUTER_REDIS_PASSWORD: hunter2
sender:
  autoscaling:
    enabled: true
    minReplicas: 2
    maxReplicas: 24
  extraEnv:
    - name: EVENTROUTER_DELIVERY_MAX_IN_FLIGHT
      value: "2048"
topics:
  includeIngest: true
serviceMonitor:
  enabled: true
`

// TestChart renders the chart with its defaults and with everything optional on, and
// finds nothing wrong.
func TestChart(t *testing.T) {
	for name, vals := range map[string]string{"defaults": "", "all on": allOn} {
		t.Run(name, func(t *testing.T) {
			m := render(t, vals)
			for _, p := range problems(m) {
				t.Error(p)
			}
		})
	}
}

// TestChartRendersWhatItPromises pins what the defaults and the options produce.
func TestChartRendersWhatItPromises(t *testing.T) {
	m := render(t, "")
	if len(m.StatefulSets) != 2 || len(m.Deployments) != 1 || len(m.PDBs) != 3 || len(m.Services) != 3 {
		t.Errorf("defaults: %d StatefulSets, %d Deployments, %d PDBs, %d Services; want 2, 1, 3, 3",
			len(m.StatefulSets), len(m.Deployments), len(m.PDBs), len(m.Services))
	}
	if len(m.ServiceMonitors)+len(m.ScaledObjects)+len(m.Secrets) != 0 {
		t.Error("defaults render a ServiceMonitor, ScaledObject or Secret: their CRDs or values are opt-in")
	}
	router := m.StatefulSets["er-eventrouter-router"]
	if router == nil || router.Spec.Replicas == nil || *router.Spec.Replicas != 2 {
		t.Fatalf("router StatefulSet er-eventrouter-router with 2 replicas not rendered: %+v", router)
	}
	init := router.Spec.Template.Spec.InitContainers
	if len(init) != 1 || !slices.Equal(init[0].Args[1:], []string{"topics", "create"}) {
		t.Errorf("router init containers %+v, want one running topics create", init)
	}

	m = render(t, allOn)
	if len(m.ServiceMonitors) != 1 || len(m.ScaledObjects) != 1 || len(m.Secrets) != 1 {
		t.Fatalf("all on: %d ServiceMonitors, %d ScaledObjects, %d Secrets; want 1 each",
			len(m.ServiceMonitors), len(m.ScaledObjects), len(m.Secrets))
	}
	if so := m.ScaledObjects["er-eventrouter-sender"]; so == nil || *so.Spec.MaxReplicaCount != 24 || *so.Spec.MinReplicaCount != 2 {
		t.Errorf("ScaledObject %+v, want er-eventrouter-sender with 2..24 replicas", so)
	}
	init = m.StatefulSets["er-eventrouter-sender"].Spec.Template.Spec.InitContainers
	if len(init) != 1 || !slices.Contains(init[0].Args, "--include-ingest") {
		t.Errorf("topics.includeIngest: sender init container %+v lacks --include-ingest", init)
	}

	// Opting out of static membership leaves the roles dynamic members.
	m = render(t, "config: {kafka: {static_membership: false}}")
	for _, s := range m.StatefulSets {
		for _, e := range s.Spec.Template.Spec.Containers[0].Env {
			if e.Name == "EVENTROUTER_KAFKA_INSTANCE_ID" {
				t.Errorf("%s: kafka.static_membership false, yet the instance id is set", s.Name)
			}
		}
	}
	if probs := problems(m); len(probs) != 0 {
		t.Errorf("static_membership false: %q", probs)
	}

	m = render(t, "topics: {create: false}")
	if n := len(m.StatefulSets["er-eventrouter-sender"].Spec.Template.Spec.InitContainers); n != 0 {
		t.Errorf("topics.create false: %d init containers, want none", n)
	}
}

// TestChartRefusesBadValues: values that would deploy something broken fail rendering
// with a message naming the value.
func TestChartRefusesBadValues(t *testing.T) {
	cases := []struct{ name, values, want string }{
		{"autoscaling beyond the partitions", `
config: {topics: {partitions: 6}}
sender: {autoscaling: {enabled: true, minReplicas: 1, maxReplicas: 8}}`,
			"sender.autoscaling.maxReplicas (8) exceeds the deliveries topic's partitions (config.topics.partitions = 6)"},
		// Without config.topics.partitions the chart's ceiling must be the built-in default.
		{"autoscaling beyond the default partitions", `
config: {topics: null}
sender: {autoscaling: {enabled: true, minReplicas: 1, maxReplicas: ` + itoa(config.Default().Topics.Partitions+1) + `}}`,
			"(config.topics.partitions = " + itoa(config.Default().Topics.Partitions) + ")"},
		{"minReplicas above maxReplicas", `sender: {autoscaling: {enabled: true, minReplicas: 5, maxReplicas: 4}}`,
			"sender.autoscaling.minReplicas (5) must be 1..maxReplicas (4)"},
		// Scaled to zero, nothing would deliver the retry tiers.
		{"scale to zero", `sender: {autoscaling: {enabled: true, minReplicas: 0}}`,
			"sender.autoscaling.minReplicas (0) must be 1..maxReplicas (12)"},
		{"instance id in the config", `config: {kafka: {instance_id: sender-a}}`, "config.kafka.instance_id"},
		{"ops listener in the config", `config: {ops: {listen: ":9100"}}`, "set opsPort instead"},
		{"api listener in the config", `config: {api: {listen: ":8081"}}`, "set api.port instead"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := renderFiles(t, tc.values)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("render error %v, want one containing %q", err, tc.want)
			}
		})
	}
	// The partition count itself is allowed.
	if _, err := renderFiles(t, "sender: {autoscaling: {enabled: true, maxReplicas: 12}}"); err != nil {
		t.Errorf("maxReplicas = partitions refused: %v", err)
	}
}

// TestChartLint is `helm lint --strict`: the chart, its templates and values pass every
// rule with no warning.
func TestChartLint(t *testing.T) {
	for name, vals := range map[string]string{"defaults": "", "all on": allOn} {
		t.Run(name, func(t *testing.T) {
			res := lint.All(chartDir, parseValues(t, vals), release.Namespace, true)
			for _, msg := range res.Messages {
				if msg.Severity >= support.WarningSev {
					t.Error(msg)
				}
			}
		})
	}
}

// TestChecksCatchMistakes breaks a correct rendering in the ways people do and expects
// each to be reported, so that TestChart passing means something.
func TestChecksCatchMistakes(t *testing.T) {
	sender := func(m manifests) *corev1.Container {
		return &m.StatefulSets["er-eventrouter-sender"].Spec.Template.Spec.Containers[0]
	}
	cases := []struct {
		name   string
		break_ func(m manifests)
		want   string
	}{
		{"misspelled variable", func(m manifests) {
			c := sender(m)
			c.Env = append(c.Env, corev1.EnvVar{Name: "EVENTROUTER_DELIVERY_TIMOUT", Value: "5s"})
		}, "EVENTROUTER_DELIVERY_TIMOUT is not the variable"},
		{"misspelled Secret key", func(m manifests) {
			m.Secrets["er-eventrouter"].StringData["EVENTROUTER_REDIS_PASSWD"] = "x"
		}, "Secret key EVENTROUTER_REDIS_PASSWD is not the variable"},
		{"invalid value", func(m manifests) {
			c := sender(m)
			c.Env = append(c.Env, corev1.EnvVar{Name: "EVENTROUTER_DELIVERY_TIMEOUT", Value: "fifteen seconds"})
		}, "delivery.timeout"},
		{"unknown key in the config file", func(m manifests) {
			m.ConfigMaps["er-eventrouter"].Data["eventrouter.yaml"] += "\nwebhook:\n  retries: 3\n"
		}, "webhook.retries: unknown key"},
		{"config file not mounted", func(m manifests) {
			c := sender(m)
			c.Args[0] = "--config=/etc/eventrouter/config.yaml"
		}, "not a key of a mounted ConfigMap"},
		{"readyz as liveness", func(m manifests) {
			sender(m).LivenessProbe.HTTPGet.Path = "/readyz"
		}, "liveness probe on /readyz, want /healthz"},
		{"probe on the wrong port", func(m manifests) {
			sender(m).ReadinessProbe.HTTPGet.Port = intstr.FromInt32(8080)
		}, "readiness probe port 8080 is not the ops listener"},
		{"grace shorter than the shutdown timeout", func(m manifests) {
			g := int64(30)
			m.StatefulSets["er-eventrouter-router"].Spec.Template.Spec.TerminationGracePeriodSeconds = &g
		}, "terminationGracePeriodSeconds 30 must exceed ops.shutdown_timeout"},
		{"no static membership", func(m manifests) {
			c := sender(m)
			c.Env = slices.DeleteFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "EVENTROUTER_KAFKA_INSTANCE_ID" })
		}, "must come from the pod name"},
		{"sender as a Deployment", func(m manifests) {
			s := m.StatefulSets["er-eventrouter-sender"]
			delete(m.StatefulSets, s.Name)
			m.Deployments[s.Name] = deploymentOf(s)
		}, "the sender role runs as a Deployment, want a StatefulSet"},
		{"budget selecting nothing", func(m manifests) {
			m.PDBs["er-eventrouter-api"].Spec.Selector.MatchLabels[componentLabel] = "apí"
		}, "selects the pods of 0 roles"},
		{"budget blocking drains", func(m manifests) {
			m.PDBs["er-eventrouter-router"].Spec.UnhealthyPodEvictionPolicy = nil
		}, "unhealthyPodEvictionPolicy must be AlwaysAllow"},
		{"service port missing", func(m manifests) {
			m.Services["er-eventrouter-api"].Spec.Ports[0].TargetPort = intstr.FromString("https")
		}, "targetPort https is no port"},
		{"servicemonitor missing a role", func(m manifests) {
			delete(m.Services["er-eventrouter-router"].Labels, "app.kubernetes.io/instance")
		}, "does not scrape the router role"},
		{"autoscaling beyond the partitions", func(m manifests) {
			n := int32(25)
			m.ScaledObjects["er-eventrouter-sender"].Spec.MaxReplicaCount = &n
		}, "maxReplicaCount 25 exceeds the deliveries topic's 24 partitions"},
		{"autoscaling on every topic's lag", func(m manifests) {
			delete(m.ScaledObjects["er-eventrouter-sender"].Spec.Triggers[0].Metadata, "topic")
		}, `trigger topic = "", want "webhooks.deliveries"`},
		{"autoscaling on another group", func(m manifests) {
			m.ScaledObjects["er-eventrouter-sender"].Spec.Triggers[0].Metadata["consumerGroup"] = "eventrouter-sender"
		}, `consumerGroup = "eventrouter-sender", want "webhooks-sender"`},
		{"replicas fighting KEDA", func(m manifests) {
			n := int32(2)
			m.StatefulSets["er-eventrouter-sender"].Spec.Replicas = &n
		}, "replicas is set while KEDA scales it"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := render(t, allOn) // a fresh rendering: nothing is shared between cases
			if probs := problems(m); len(probs) != 0 {
				t.Fatalf("the unbroken rendering already has problems: %q", probs)
			}
			tc.break_(m)
			probs := problems(m)
			if !slices.ContainsFunc(probs, func(p string) bool { return strings.Contains(p, tc.want) }) {
				t.Errorf("no problem mentioning %q; got %q", tc.want, probs)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
