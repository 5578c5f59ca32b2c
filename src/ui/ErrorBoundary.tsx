import { Component, type ErrorInfo, type ReactNode } from 'react';
import { noticesStore } from '../state/app';

interface Props {
  /** What is inside (for the message). */
  label: string;
  children: ReactNode;
}

interface State {
  error: Error | null;
}

/** A render error in one panel shows a message there instead of blanking the app. */
export class ErrorBoundary extends Component<Props, State> {
  override state: State = { error: null };

  static getDerivedStateFromError(error: Error): State {
    return { error };
  }

  override componentDidCatch(error: Error, info: ErrorInfo) {
    noticesStore.getState().pushError(error, `The ${this.props.label} panel`);
    console.error(error, info.componentStack);
  }

  override render() {
    if (this.state.error) {
      return (
        <div className="card card-error" role="alert">
          <h2>The {this.props.label} panel hit an error</h2>
          <p className="mono">{this.state.error.message}</p>
          <button type="button" onClick={() => this.setState({ error: null })}>
            Try again
          </button>
        </div>
      );
    }
    return this.props.children;
  }
}
