package helm_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/claimable/eventrouter/config"
)

// roles are eventrouter's long-running roles, each one workload of the chart.
var roles = []string{"router", "sender", "api"}

// componentLabel names a pod's role.
const componentLabel = "app.kubernetes.io/component"

// workload is a StatefulSet or Deployment, reduced to what the checks read.
type workload struct {
	Kind     string
	Name     string
	Replicas *int32
	Selector *metav1.LabelSelector
	Template *corev1.PodTemplateSpec
}

// podName is the name of the workload's first pod as Kubernetes would give it (the
// downward API's metadata.name); for a Deployment it is only an example.
func (w workload) podName() string {
	if w.Kind == "StatefulSet" {
		return w.Name + "-0"
	}
	return w.Name + "-5d8f7c9b4-x2x7q"
}

// selects reports whether sel selects the workload's pods.
func (w workload) selectedBy(sel map[string]string) bool {
	return len(sel) > 0 && labels.SelectorFromSet(sel).Matches(labels.Set(w.Template.Labels))
}

// workloads returns each role's workload, found by its component label.
func (m manifests) workloads() (map[string]workload, []string) {
	out := map[string]workload{}
	var probs []string
	add := func(w workload) {
		role := w.Template.Labels[componentLabel]
		if _, dup := out[role]; dup {
			probs = append(probs, fmt.Sprintf("two workloads for role %q", role))
		}
		out[role] = w
	}
	for _, s := range m.StatefulSets {
		add(workload{"StatefulSet", s.Name, s.Spec.Replicas, s.Spec.Selector, &s.Spec.Template})
	}
	for _, d := range m.Deployments {
		add(workload{"Deployment", d.Name, d.Spec.Replicas, d.Spec.Selector, &d.Spec.Template})
	}
	return out, probs
}

// mainContainer is the container named after the role.
func mainContainer(role string, w workload) *corev1.Container {
	for i := range w.Template.Spec.Containers {
		if w.Template.Spec.Containers[i].Name == role {
			return &w.Template.Spec.Containers[i]
		}
	}
	return nil
}

// containerConfig loads eventrouter's configuration exactly as the container would
// see it: the --config file from its mounted ConfigMap, then its environment
// (literal values, the downward API's pod name, and the chart's Secret via envFrom).
// It returns the configuration and what is wrong with how the container gets it.
func (m manifests) containerConfig(w workload, c *corev1.Container) (config.Config, []string) {
	var probs []string
	add := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	where := w.Name + "/" + c.Name

	env := map[string]string{}
	known := map[string]bool{}
	for _, k := range config.Keys() {
		known[config.EnvName(k)] = true
	}
	setEnv := func(source, name, value string) {
		if strings.HasPrefix(name, config.EnvPrefix+"_") && !known[name] {
			add("%s: %s %s is not the variable of any configuration key (see docs/configuration.md)", where, source, name)
		}
		env[name] = value
	}
	for _, from := range c.EnvFrom {
		if from.SecretRef == nil {
			add("%s: envFrom other than a Secret", where)
			continue
		}
		if s, ok := m.Secrets[from.SecretRef.Name]; ok {
			for k, v := range s.StringData {
				setEnv("Secret key", k, v)
			}
		} // else an existing Secret the operator manages: its keys are not known here
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			setEnv("variable", e.Name, e.Value)
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name":
			setEnv("variable", e.Name, w.podName())
		default:
			setEnv("variable", e.Name, "from-"+e.Name)
		}
	}

	file := ""
	for _, a := range c.Args {
		if v, ok := strings.CutPrefix(a, "--config="); ok {
			file = v
		}
	}
	if file == "" {
		add("%s: no --config=FILE argument", where)
		cfg, err := config.Load(config.Source{Env: env})
		if err != nil {
			add("%s: its environment is not a valid configuration: %v", where, err)
		}
		return cfg, probs
	}
	data, ok := m.mountedFile(w, c, file)
	if !ok {
		add("%s: --config=%s is not a key of a mounted ConfigMap of this chart", where, file)
		return config.Config{}, probs
	}
	dir, err := os.MkdirTemp("", "eventrouter-chart")
	if err != nil {
		add("%v", err)
		return config.Config{}, probs
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "eventrouter.yaml")
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		add("%v", err)
		return config.Config{}, probs
	}
	cfg, err := config.Load(config.Source{File: path, Env: env})
	if err != nil {
		add("%s: its configuration (%s plus its environment) is not valid: %v", where, file, err)
	}
	return cfg, probs
}

// mountedFile returns the content of path inside container c, when path is a key of
// one of the chart's ConfigMaps mounted there.
func (m manifests) mountedFile(w workload, c *corev1.Container, path string) (string, bool) {
	for _, vm := range c.VolumeMounts {
		rel, err := filepath.Rel(vm.MountPath, path)
		if err != nil || strings.HasPrefix(rel, "..") || strings.Contains(rel, "/") {
			continue
		}
		for _, v := range w.Template.Spec.Volumes {
			if v.Name != vm.Name || v.ConfigMap == nil {
				continue
			}
			if cm, ok := m.ConfigMaps[v.ConfigMap.Name]; ok {
				data, ok := cm.Data[rel]
				return data, ok
			}
		}
	}
	return "", false
}

// containerPort returns the port number a probe or Service refers to, by name or number.
func containerPort(c *corev1.Container, ref string) (int32, bool) {
	for _, p := range c.Ports {
		if p.Name == ref || fmt.Sprint(p.ContainerPort) == ref {
			return p.ContainerPort, true
		}
	}
	return 0, false
}

// listenPort is the port of a host:port listen address such as ":9090".
func listenPort(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	return port
}

// deploymentOf is s as a Deployment (for TestChecksCatchMistakes).
func deploymentOf(s *appsv1.StatefulSet) *appsv1.Deployment {
	d := &appsv1.Deployment{ObjectMeta: s.ObjectMeta}
	d.Spec.Replicas, d.Spec.Selector, d.Spec.Template = s.Spec.Replicas, s.Spec.Selector, s.Spec.Template
	return d
}
