// Package helm_test renders the eventrouter Helm chart with Helm's own Go packages (no
// helm binary, no cluster, no network) and checks what it renders: every manifest
// decodes strictly into its Kubernetes, prometheus-operator or KEDA Go type (an unknown
// or misspelt field fails), and the objects fit together and fit eventrouter (real
// configuration keys, probes on the ops listener, static membership, the KEDA cap).
package helm_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	keda "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/releaseutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// chartDir is the chart, relative to this package.
const chartDir = "eventrouter"

// release is the release every test renders.
var release = chartutil.ReleaseOptions{Name: "er", Namespace: "webhooks", Revision: 1, IsInstall: true}

// manifests is one rendering of the chart, decoded: every object by kind, then name.
type manifests struct {
	ConfigMaps      map[string]*corev1.ConfigMap
	Secrets         map[string]*corev1.Secret
	Services        map[string]*corev1.Service
	StatefulSets    map[string]*appsv1.StatefulSet
	Deployments     map[string]*appsv1.Deployment
	PDBs            map[string]*policyv1.PodDisruptionBudget
	ServiceMonitors map[string]*monitoringv1.ServiceMonitor
	ScaledObjects   map[string]*keda.ScaledObject
}

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	return ch
}

// parseValues reads a values override written as YAML, like a -f values file.
func parseValues(t *testing.T, overrides string) map[string]any {
	t.Helper()
	vals, err := chartutil.ReadValues([]byte(overrides))
	if err != nil {
		t.Fatalf("values: %v", err)
	}
	return vals.AsMap()
}

// renderFiles renders the chart as `helm template --strict` would (a missing value is
// an error) and returns each template's output.
func renderFiles(t *testing.T, overrides string) (map[string]string, error) {
	t.Helper()
	ch := loadChart(t)
	rv, err := chartutil.ToRenderValues(ch, parseValues(t, overrides), release, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	return engine.Engine{Strict: true}.Render(ch, rv)
}

// render renders the chart with overrides and decodes every manifest strictly.
func render(t *testing.T, overrides string) manifests {
	t.Helper()
	files, err := renderFiles(t, overrides)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	m, err := decodeAll(files)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// decodeAll splits every rendered template into documents and decodes each into the
// Go type of its apiVersion and kind, rejecting unknown fields and kinds.
func decodeAll(files map[string]string) (manifests, error) {
	m := manifests{
		ConfigMaps: map[string]*corev1.ConfigMap{}, Secrets: map[string]*corev1.Secret{},
		Services: map[string]*corev1.Service{}, StatefulSets: map[string]*appsv1.StatefulSet{},
		Deployments: map[string]*appsv1.Deployment{}, PDBs: map[string]*policyv1.PodDisruptionBudget{},
		ServiceMonitors: map[string]*monitoringv1.ServiceMonitor{}, ScaledObjects: map[string]*keda.ScaledObject{},
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, file := range names {
		if strings.HasSuffix(file, "NOTES.txt") {
			continue
		}
		for _, doc := range releaseutil.SplitManifests(files[file]) {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			if err := m.add([]byte(doc)); err != nil {
				return m, fmt.Errorf("%s: %w\n%s", file, err, doc)
			}
		}
	}
	return m, nil
}

// add decodes one document into its type and files it under its name.
func (m *manifests) add(doc []byte) error {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return fmt.Errorf("not YAML: %w", err)
	}
	var name string
	decode := func(obj interface{ GetName() string }) error {
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			return fmt.Errorf("%s %s: %w", tm.APIVersion, tm.Kind, err)
		}
		name = obj.GetName()
		if name == "" {
			return fmt.Errorf("%s without a name", tm.Kind)
		}
		return nil
	}
	var err error
	switch tm.APIVersion + " " + tm.Kind {
	case "v1 ConfigMap":
		o := &corev1.ConfigMap{}
		if err = decode(o); err == nil {
			err = put(m.ConfigMaps, name, o)
		}
	case "v1 Secret":
		o := &corev1.Secret{}
		if err = decode(o); err == nil {
			err = put(m.Secrets, name, o)
		}
	case "v1 Service":
		o := &corev1.Service{}
		if err = decode(o); err == nil {
			err = put(m.Services, name, o)
		}
	case "apps/v1 StatefulSet":
		o := &appsv1.StatefulSet{}
		if err = decode(o); err == nil {
			err = put(m.StatefulSets, name, o)
		}
	case "apps/v1 Deployment":
		o := &appsv1.Deployment{}
		if err = decode(o); err == nil {
			err = put(m.Deployments, name, o)
		}
	case "policy/v1 PodDisruptionBudget":
		o := &policyv1.PodDisruptionBudget{}
		if err = decode(o); err == nil {
			err = put(m.PDBs, name, o)
		}
	case "monitoring.coreos.com/v1 ServiceMonitor":
		o := &monitoringv1.ServiceMonitor{}
		if err = decode(o); err == nil {
			err = put(m.ServiceMonitors, name, o)
		}
	case "keda.sh/v1alpha1 ScaledObject":
		o := &keda.ScaledObject{}
		if err = decode(o); err == nil {
			err = put(m.ScaledObjects, name, o)
		}
	default:
		err = fmt.Errorf("unexpected kind %q (apiVersion %q): add it to the decoder and its checks", tm.Kind, tm.APIVersion)
	}
	return err
}

func put[T any](into map[string]T, name string, obj T) error {
	if _, dup := into[name]; dup {
		return fmt.Errorf("two objects of one kind named %q", name)
	}
	into[name] = obj
	return nil
}
