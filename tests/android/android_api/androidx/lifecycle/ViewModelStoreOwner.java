package androidx.lifecycle;

/**
 * Stand-in for androidx.lifecycle.ViewModelStoreOwner (lifecycle 2.6+, what activity 1.9.3
 * brings): a type only; its getViewModelStore() is called by ViewModelProvider, not the app.
 */
public interface ViewModelStoreOwner {}
